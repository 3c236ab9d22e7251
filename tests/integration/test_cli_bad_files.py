"""Bad user files through the real CLI: exit code 2, one message naming the file and the column,
no traceback, and nothing written where the output would have gone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.settings import get_settings

runner = CliRunner()
Writer = Callable[[Path], None]


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("COLUMNS", "400")  # one message on one line, whatever the path length
    get_settings.cache_clear()
    yield tmp_path / "ws"
    get_settings.cache_clear()


def csv(text: str) -> Writer:
    return lambda path: path.write_text(text)


def parquet(frame: pd.DataFrame) -> Writer:
    return lambda path: frame.to_parquet(path)


UTC = pd.Timestamp("2026-01-01", tz="UTC")

# (case, file name, writer, column the message must name or None, words it must contain)
SCORE_FILES: list[tuple[str, str, Writer, str | None, list[str]]] = [
    ("missing column", "in.csv", csv("id\n1\n"), "customer_id", ["missing column"]),
    (
        "text id",
        "in.csv",
        csv("customer_id\n1\nabc\n"),
        "customer_id",
        ["integers", "'abc'", "row 2"],
    ),
    ("fractional id", "in.csv", csv("customer_id\n1.5\n"), "customer_id", ["integers", "1.5"]),
    (
        "boolean id",
        "in.parquet",
        parquet(pd.DataFrame({"customer_id": [True]})),
        "customer_id",
        ["integers", "True"],
    ),
    (
        "empty value",
        "in.csv",
        csv("customer_id,x\n1,a\n,b\n"),
        "customer_id",
        ["empty value", "row 2"],
    ),
    ("negative id", "in.csv", csv("customer_id\n-3\n"), "customer_id", ["positive", "-3"]),
    ("empty file", "in.csv", csv(""), None, ["empty"]),
    ("header only", "in.csv", csv("customer_id\n"), None, ["no rows"]),
    (
        "empty parquet",
        "in.parquet",
        parquet(pd.DataFrame({"customer_id": pd.Series([], dtype="int64")})),
        None,
        ["no rows"],
    ),
    ("not parquet", "in.parquet", csv("customer_id\n1\n"), None, ["not a readable Parquet"]),
    ("wrong suffix", "in.json", csv("{}"), None, [".parquet or .csv"]),
]


def _assert_refused(
    output: str, exit_code: int, path: Path, column: str | None, words: list[str]
) -> None:
    assert exit_code == 2, output
    assert "Traceback" not in output
    text = " ".join(output.split())  # Rich may wrap a long path
    assert str(path) in text, text
    if column is not None:
        assert column in text, text
    for word in words:
        assert word in text, (word, text)


@pytest.mark.parametrize(
    ("name", "writer", "column", "words"),
    [case[1:] for case in SCORE_FILES],
    ids=[case[0] for case in SCORE_FILES],
)
def test_keel_score_refuses_a_bad_input_file_and_writes_nothing(
    tmp_path: Path, name: str, writer: Writer, column: str | None, words: list[str]
) -> None:
    path = tmp_path / name
    writer(path)
    out = tmp_path / "out" / "scores.parquet"
    result = runner.invoke(
        app, ["score", "--input", str(path), "--as-of", "2026-11-30T00:00Z", "--output", str(out)]
    )
    _assert_refused(result.output, result.exit_code, path, column, [*words, "--input"])
    assert not out.parent.exists() or not any(out.parent.iterdir())


def _labelled(**overrides: object) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "customer_id": range(1, 41),
            "event_timestamp": pd.date_range("2026-01-01", periods=40, freq="D", tz="UTC"),
            "spend": [float(i % 7) for i in range(40)],
            "churned": [i % 2 for i in range(40)],
        }
    )
    return frame.assign(**overrides)


CURVE_FILES: list[tuple[str, str, Writer, str | None, list[str]]] = [
    (
        "naive timestamps",
        "t.parquet",
        parquet(_labelled(event_timestamp=pd.date_range("2026-01-01", periods=40, freq="D"))),
        "event_timestamp",
        ["without a time zone", "tz_localize"],
    ),
    (
        "csv timestamp without offset",
        "t.csv",
        csv(
            "customer_id,event_timestamp,churned\n1,2026-01-01T00:00:00Z,0\n2,2026-01-02 08:00,1\n"
        ),
        "event_timestamp",
        ["without a time zone", "'2026-01-02 08:00'", "row 2"],
    ),
    ("missing target", "t.csv", csv("customer_id,spend\n1,2.0\n"), "churned", ["missing column"]),
    (
        "labels not 0/1",
        "t.parquet",
        parquet(_labelled(churned=[2] * 40)),
        "churned",
        ["0/1 labels", "2"],
    ),
    (
        "text timestamps",
        "t.csv",
        csv("customer_id,event_timestamp,churned\n1,soon,0\n"),
        "event_timestamp",
        ["without a time zone", "'soon'"],
    ),
    (
        "duplicate entity rows",
        "t.parquet",
        parquet(_labelled(customer_id=[1] * 2 + list(range(3, 41)), event_timestamp=[UTC] * 40)),
        "customer_id",
        ["duplicate", "event_timestamp", "rows 1 and 2"],
    ),
    ("empty csv", "t.csv", csv(""), None, ["empty"]),
]


@pytest.mark.parametrize(
    ("name", "writer", "column", "words"),
    [case[1:] for case in CURVE_FILES],
    ids=[case[0] for case in CURVE_FILES],
)
def test_keel_learning_curve_refuses_a_bad_data_file(
    tmp_path: Path, name: str, writer: Writer, column: str | None, words: list[str]
) -> None:
    path = tmp_path / name
    writer(path)
    result = runner.invoke(app, ["learning-curve", "--data", str(path), "--sizes", "10"])
    _assert_refused(result.output, result.exit_code, path, column, [*words, "--data"])


def test_keel_monitor_performance_refuses_naive_prediction_times(tmp_path: Path) -> None:
    path = tmp_path / "export.parquet"
    pd.DataFrame(
        {
            "created_at": pd.date_range("2026-01-01", periods=3, freq="h"),
            "churn_probability": [0.1, 0.5, 0.9],
            "label": [0, 0, 1],
            "model_version": ["1"] * 3,
            "outcome": [0, 1, 1],
        }
    ).to_parquet(path)
    result = runner.invoke(app, ["monitor", "performance", "--predictions", str(path)])
    _assert_refused(result.output, result.exit_code, path, "created_at", ["time zone"])


@pytest.mark.parametrize(
    ("writer", "words"),
    [(csv(""), ["empty"]), (csv("a,b\n"), ["no rows"]), (csv("x\n\x00\x01"), [])],
    ids=["empty", "header only", "garbage"],
)
def test_keel_data_describe_refuses_an_empty_or_unreadable_table(
    tmp_path: Path, writer: Writer, words: list[str]
) -> None:
    path = tmp_path / "table.csv"
    writer(path)
    result = runner.invoke(app, ["data", "describe", "--file", str(path)])
    if not words:  # a readable oddity is described, never a traceback
        assert result.exit_code in (0, 2) and "Traceback" not in result.output
        return
    _assert_refused(result.output, result.exit_code, path, None, words)
