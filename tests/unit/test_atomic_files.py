"""Atomic writes: a failure mid-write leaves the old file (or nothing) and no temporary file."""

from __future__ import annotations

import stat
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from keel.core.atomic_files import atomic_path, write_text


class Boom(Exception):
    pass


def _half_written_parquet(tmp: Path) -> None:
    """Write one row group for real, then fail before the file is complete."""
    table = pa.table({"x": list(range(1000))})
    with pq.ParquetWriter(tmp, table.schema) as writer:
        writer.write_table(table)
        assert tmp.stat().st_size > 0  # bytes really reached the temporary file
        raise Boom


def test_a_successful_write_replaces_the_file_and_leaves_only_it(tmp_path: Path) -> None:
    target = tmp_path / "out" / "page.html"
    write_text(target, "old")
    write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["page.html"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_failure_mid_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "scores.parquet"
    pd.DataFrame({"x": [1, 2, 3]}).to_parquet(target)
    before = target.read_bytes()
    with pytest.raises(Boom), atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".parquet"
        _half_written_parquet(tmp)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["scores.parquet"]


def test_a_failure_on_a_new_file_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new" / "export.parquet"
    with pytest.raises(Boom), atomic_path(target) as tmp:
        _half_written_parquet(tmp)
    assert list(target.parent.iterdir()) == []
