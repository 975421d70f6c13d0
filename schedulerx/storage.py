"""What a storage backend plugin implements (``register_storage_backends``)."""
from __future__ import annotations

from typing import BinaryIO, ClassVar


class Storage:
    name: ClassVar[str]

    def __init__(self, config):
        self.config = config

    def save(self, key: str, fileobj: BinaryIO) -> int:
        """Store the stream under ``key``; return the number of bytes written."""
        raise NotImplementedError

    def open(self, key: str) -> BinaryIO:
        raise NotImplementedError

    def size(self, key: str) -> int:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def local_path(self, key: str) -> str | None:
        """A filesystem path for the object, when the backend has one (for Range serving)."""
        return None
