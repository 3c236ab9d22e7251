"""Why the disk of the local prediction log cannot take a commit: read-only or full.

A disk that fails under a running server is taken read-only by the kernel (ext4's
`errors=remount-ro`): new files get EROFS, SQLite's open file gets EIO ("disk I/O error"), and
on recent kernels `statvfs` still says read-write while the mount shows `emergency_ro`. So the
mount options are read as well as `statvfs`.
"""

from __future__ import annotations

import os
from pathlib import Path

MOUNTS = Path("/proc/self/mounts")
MIN_FREE_BYTES = 64 * 1024


def mount_options(path: Path, mounts: Path = MOUNTS) -> set[str]:
    """The options of the mount holding `path` (the longest mount point above it)."""
    target = os.path.realpath(path)
    best, options = "", ""
    try:
        lines = mounts.read_text().splitlines()
    except OSError:
        return set()
    for line in lines:
        fields = line.split()
        if len(fields) < 4:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, options = point, fields[3]
    return set(options.split(","))


def disk_problem(path: Path) -> str | None:
    """Whether the file system of `path` is read-only or full (naming `path`), else None."""
    try:
        stats = os.statvfs(path.parent)
    except OSError as error:
        return f"{path.parent}: {error.strerror or error}"
    options = mount_options(path.parent)
    if "emergency_ro" in options:
        return f"read-only file system: the kernel took it read-only after a disk error ({path})"
    if stats.f_flag & os.ST_RDONLY or "ro" in options:
        return f"read-only file system ({path})"
    if stats.f_bavail * stats.f_frsize < MIN_FREE_BYTES:
        return f"disk full ({path}: {stats.f_bavail * stats.f_frsize} bytes free)"
    return None
