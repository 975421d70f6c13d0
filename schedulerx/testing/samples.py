"""Tiny valid media files for tests: what type sniffers and platform fakes look at."""
from __future__ import annotations

import struct
import zlib


def png_bytes(padding: int = 0) -> bytes:
    """A valid 1x1 PNG (plus ``padding`` trailing bytes, which viewers ignore)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
            + chunk(b"IEND", b"") + b"\x00" * padding)


def mp4_bytes(padding: int = 0) -> bytes:
    """An MP4 ``ftyp`` box and an ``mdat`` box of ``padding`` bytes."""
    return (struct.pack(">I", 24) + b"ftypisom" + b"\x00\x00\x02\x00" + b"isommp41"
            + struct.pack(">I", 8 + padding) + b"mdat" + b"\x00" * padding)
