"""Local filesystem storage: media under DATA_DIR/media, keys can never leave that root."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from schedulerx import hookimpl
from schedulerx.storage import Storage


class LocalStorage(Storage):
    name = "local"

    def __init__(self, config):
        super().__init__(config)
        self.root = (Path(config.data_dir) / "media").resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        # Refuse "..", absolute keys and symlink tricks: the result must stay under root.
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f"storage key {key!r} escapes the media folder")
        return path

    def save(self, key, fileobj) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as out:
            shutil.copyfileobj(fileobj, out, 1024 * 1024)
        os.replace(tmp, path)  # readers never see half a file
        return path.stat().st_size

    def open(self, key):
        return open(self._path(key), "rb")

    def size(self, key) -> int:
        return self._path(key).stat().st_size

    def delete(self, key) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key) -> str:
        return str(self._path(key))


@hookimpl
def register_storage_backends():
    return [LocalStorage]
