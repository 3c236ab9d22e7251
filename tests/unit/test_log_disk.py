"""`disk_problem` reads the mount's options as well as `statvfs`: a disk the kernel took
read-only after an error still says read-write to `statvfs` on recent kernels."""

from __future__ import annotations

from pathlib import Path

from serving.log_disk import disk_problem, mount_options


def mounts_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "mounts"
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def test_the_longest_mount_point_above_the_path_decides(tmp_path: Path) -> None:
    mounts = mounts_file(
        tmp_path,
        "/dev/vda / ext4 rw,relatime 0 0",
        "/dev/loop0 /srv/keel\\040home ext4 rw,relatime,errors=remount-ro,emergency_ro 0 0",
        "tmpfs /srv/keel tmpfs rw,size=32m 0 0",
    )
    assert "emergency_ro" in mount_options(Path("/srv/keel home/predictions"), mounts)
    assert mount_options(Path("/srv/keel/predictions"), mounts) == {"rw", "size=32m"}
    assert mount_options(Path("/srv/keelx"), mounts) == {"rw", "relatime"}
    assert mount_options(Path("/srv"), tmp_path / "missing") == set()


def test_a_writable_disk_with_room_has_no_problem(tmp_path: Path) -> None:
    assert disk_problem(tmp_path / "predictions.db") is None
    missing = disk_problem(tmp_path / "gone" / "predictions.db")
    assert missing is not None and str(tmp_path / "gone") in missing
