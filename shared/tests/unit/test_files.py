from pathlib import Path

import pytest

from dukcapil_shared.files import DirectoryFileStore


async def test_a_file_is_written_whole_replaced_whole_and_read_back(tmp_path: Path) -> None:
    storage = DirectoryFileStore(tmp_path / "documents")
    await storage.save("a.pdf", b"%PDF-first")
    await storage.save("a.pdf", b"%PDF-second")
    assert await storage.load("a.pdf") == b"%PDF-second"
    assert await storage.load("missing.pdf") is None
    assert [path.name for path in (tmp_path / "documents").iterdir()] == ["a.pdf"]


@pytest.mark.parametrize("key", ["../escape.pdf", "sub/dir.pdf", "", ".."])
async def test_keys_cannot_leave_the_storage_folder(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        await DirectoryFileStore(tmp_path).save(key, b"x")
