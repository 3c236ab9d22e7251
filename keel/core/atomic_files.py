"""Atomic writes of user-visible files: a reader sees the old file or the new one, never half.

The content goes to a temporary file in the target's directory (same file system, so the final
`os.replace` is atomic), is fsynced, then renamed over the target; the directory is fsynced so
the rename survives a crash. On any error the temporary file is removed and the target is left
as it was. The temporary name keeps the target's suffix, so format-guessing writers (pandas,
matplotlib) write the right format.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o644
"""`mkstemp` creates 0600; outputs are meant to be read by others, as a plain `open` would."""


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target` to write to; on success it replaces `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def write_bytes(target: Path, data: bytes) -> Path:
    """Write `data` to `target` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write `text` to `target` atomically."""
    return write_bytes(target, text.encode(encoding))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform/file system can fsync a directory
        _fsync(directory)
