"""Files that belong to database rows: written where no reader looks, then moved in place.

An action stages its files before its transaction, places them just before the
commit and removes them if the transaction fails, so a failed action leaves
neither a row without its file nor a file without its row.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class StagedFile:
    staging_path: Path
    final_path: Path
    relpath: str


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._staging = root / ".staging"

    def path_of(self, relpath: str) -> Path:
        path = (self.root / relpath).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError("path escapes the file store")
        return path

    async def stage(self, data: bytes, folder: str, suffix: str) -> StagedFile:
        name = secrets.token_hex(16) + suffix
        relpath = f"{folder}/{name}"
        staged = StagedFile(self._staging / name, self.root / relpath, relpath)

        def write() -> None:
            self._staging.mkdir(parents=True, exist_ok=True)
            with open(staged.staging_path, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())

        await asyncio.to_thread(write)
        return staged

    def place(self, files: list[StagedFile]) -> None:
        """Move staged files to their final paths; placing a file twice is harmless."""
        for f in files:
            if f.final_path.exists() and not f.staging_path.exists():
                continue
            f.final_path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(f.staging_path, f.final_path)

    def discard(self, files: list[StagedFile]) -> None:
        for f in files:
            for path in (f.staging_path, f.final_path):
                path.unlink(missing_ok=True)

    async def read(self, relpath: str) -> bytes:
        return await asyncio.to_thread(self.path_of(relpath).read_bytes)
