"""Files a service keeps beside its database: issued documents, uploaded scans."""

import abc
import os
import uuid
from pathlib import Path

import anyio


class FileStore(abc.ABC):
    @abc.abstractmethod
    async def save(self, key: str, content: bytes) -> None:
        """Store `content` under `key` whole or not at all, replacing what was there."""

    @abc.abstractmethod
    async def load(self, key: str) -> bytes | None: ...

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the file under `key`; nothing to do when there is none (a retention round that stopped halfway)."""


class DirectoryFileStore(FileStore):
    """Files in one folder, each written whole or not at all (a crash leaves a stray temporary file at most)."""

    def __init__(self, root: str | Path) -> None:
        self._root = Path(root)

    async def save(self, key: str, content: bytes) -> None:
        await anyio.to_thread.run_sync(self._save, self._path(key), content)

    async def load(self, key: str) -> bytes | None:
        return await anyio.to_thread.run_sync(self._load, self._path(key))

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(self._path(key).unlink, True)

    def _path(self, key: str) -> Path:
        path = self._root / key
        if path.parent != self._root or path.name in {"", ".", ".."}:
            raise ValueError(f"not a storage key: {key!r}")
        return path

    def _save(self, path: Path, content: bytes) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        # A crash mid-write leaves a stray temporary file, never a truncated document under the real name.
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with temporary.open("wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        directory = os.open(self._root, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    @staticmethod
    def _load(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
