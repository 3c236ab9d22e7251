"""Specification of the Gaussian-copula synthesizer and of `keel data synthesize`: exactly N
rows with the table's columns and dtypes, seeded, dependence kept, identifiers never copied,
and clear errors for tables it cannot model."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.errors import InvalidInput
from synthetic.copula import GaussianCopula
from synthetic.lab import synthesize_file
from synthetic.report import build_report

N = 3000


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """Mixed types with a known dependence: amount grows with x, plan follows x, nulls in c."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=N)
    signup = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 365 * 86_400, N), unit="s"
    )
    return pd.DataFrame(
        {
            "account_id": np.arange(1000, 1000 + N),
            "x": x,
            "amount": np.round(np.exp(x + rng.normal(0, 0.3, N)), 2),
            "visits": rng.poisson(np.exp(0.5 * x + 1)).astype(np.int64),
            "plan": np.where(x > 0.5, "premium", np.where(rng.random(N) < 0.5, "basic", "plus")),
            "active": rng.random(N) < 0.7,
            "signup_at": pd.Series(signup).astype("datetime64[us, UTC]"),
            "score": np.where(rng.random(N) < 0.2, np.nan, x + rng.normal(0, 0.5, N)),
            "tickets": pd.array(
                np.where(rng.random(N) < 0.1, None, rng.integers(0, 4, N)), "Int64"
            ),
        }
    )


@pytest.fixture(scope="module")
def sample(table: pd.DataFrame) -> pd.DataFrame:
    return GaussianCopula(seed=1).fit(table).sample(2 * N + 7)


def test_samples_exactly_the_requested_rows_with_the_same_columns_and_dtypes(
    table: pd.DataFrame, sample: pd.DataFrame
) -> None:
    assert len(sample) == 2 * N + 7
    assert list(sample.columns) == list(table.columns)
    assert sample.dtypes.to_dict() == table.dtypes.to_dict()


def test_same_seed_same_rows_and_another_seed_other_rows(table: pd.DataFrame) -> None:
    first = GaussianCopula(seed=7).fit(table).sample(500)
    pd.testing.assert_frame_equal(first, GaussianCopula(seed=7).fit(table).sample(500))
    assert not first.equals(GaussianCopula(seed=8).fit(table).sample(500))


def test_marginals_and_null_rates_follow_the_real_table(
    table: pd.DataFrame, sample: pd.DataFrame
) -> None:
    for column in ("x", "amount", "visits"):
        assert sample[column].median() == pytest.approx(table[column].median(), rel=0.1, abs=0.05)
        assert table[column].min() <= sample[column].min()
        assert sample[column].max() <= table[column].max()
    assert sample["score"].isna().mean() == pytest.approx(0.2, abs=0.03)
    assert sample["tickets"].isna().mean() == pytest.approx(0.1, abs=0.02)
    assert set(sample["plan"]) == {"basic", "plus", "premium"}
    assert sample["active"].mean() == pytest.approx(table["active"].mean(), abs=0.03)
    assert sample["signup_at"].between(table["signup_at"].min(), table["signup_at"].max()).all()


def test_dependence_between_columns_is_kept(table: pd.DataFrame, sample: pd.DataFrame) -> None:
    real = table["x"].corr(table["amount"], method="spearman")
    assert sample["x"].corr(sample["amount"], method="spearman") == pytest.approx(real, abs=0.05)
    premium_x = sample.loc[sample["plan"] == "premium", "x"].mean()
    assert premium_x > sample["x"].mean() + 0.5


def test_identifiers_are_renumbered_never_copied(sample: pd.DataFrame) -> None:
    assert sample["account_id"].tolist() == list(range(1, len(sample) + 1))


def test_continuous_values_are_interpolated_rather_than_copied(
    table: pd.DataFrame, sample: pd.DataFrame
) -> None:
    assert sample["x"].isin(table["x"]).mean() < 0.01


def test_conditioning_on_a_label_keeps_each_class_joint_distribution(table: pd.DataFrame) -> None:
    model = GaussianCopula(seed=2, by="plan").fit(table)
    sample = model.sample(N)
    assert sample["plan"].value_counts(normalize=True)["premium"] == pytest.approx(
        (table["plan"] == "premium").mean(), abs=0.03
    )
    assert sample.loc[sample["plan"] == "premium", "x"].min() >= 0.5
    assert sample["account_id"].tolist() == list(range(1, N + 1))


def test_conditioning_refuses_classes_too_small_to_hide_in(table: pd.DataFrame) -> None:
    tiny = table.assign(flag=np.where(np.arange(N) < 5, "rare", "common"))
    with pytest.raises(InvalidInput, match=r"only 5 rows have flag = 'rare'"):
        GaussianCopula(by="flag").fit(tiny, source="t.parquet")
    with pytest.raises(InvalidInput, match=r"no column 'nope'"):
        GaussianCopula(by="nope").fit(table)


def test_synthesize_file_writes_atomically_and_refuses_to_overwrite_its_source(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "real.parquet"
    table.to_parquet(source)
    result = synthesize_file(source, rows=100, seed=0, out=tmp_path / "new" / "s.parquet")
    assert len(pd.read_parquet(result.out)) == 100
    assert sorted(p.name for p in result.out.parent.iterdir()) == ["s.parquet"]
    with pytest.raises(InvalidInput, match="refusing to overwrite"):
        synthesize_file(source, rows=10, seed=0, out=source)
    with pytest.raises(ValueError, match="rows must be an int >= 1, got 0"):
        synthesize_file(source, rows=0, seed=0, out=tmp_path / "x.parquet")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: pd.DataFrame({"a": pd.Series([], dtype="float64")}).to_parquet(p), "no rows"),
        (lambda p: p.write_text("not parquet"), "not a readable Parquet file"),
        (
            lambda p: pd.DataFrame({"a": [1.0, 2.0], "tags": [[1, 2], [3]]}).to_parquet(p),
            r"column 'tags' holds mixed",
        ),
        (
            lambda p: pd.DataFrame(
                {"a": [1.0, 2.0], "gap": pd.to_timedelta([1, 2], "s")}
            ).to_parquet(p),
            r"column 'gap' has unsupported type",
        ),
    ],
)
def test_cli_synthesize_rejects_bad_tables_with_exit_2_naming_file_and_column(
    tmp_path: Path, make: object, message: str
) -> None:
    source = tmp_path / "bad.parquet"
    make(source)  # type: ignore[operator]
    out = tmp_path / "s.parquet"
    result = CliRunner().invoke(
        app, ["data", "synthesize", "--from", str(source), "--rows", "5", "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    squeezed = "".join(result.output.split())  # Rich wraps long lines at spaces
    assert "bad.parquet" in squeezed
    assert re.search(message.replace(" ", ""), squeezed)
    assert not out.exists()


def test_cli_synthesize_names_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.parquet"
    result = CliRunner().invoke(
        app, ["data", "synthesize", "--from", str(missing), "--rows", "5", "--out", "s.parquet"]
    )
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_report_handles_every_column_kind_and_nulls(table: pd.DataFrame) -> None:
    labelled = table.assign(label=np.where(table["x"] > 1.0, "yes", "no"))
    sample = GaussianCopula(seed=3, by="label").fit(labelled).sample(N)
    report = build_report(labelled, sample, target="label")
    assert report.kinds["account_id"] == "id"
    assert "account_id" not in {c.column for c in report.fidelity.columns}
    assert report.utility is not None and report.utility.positive == "yes"
    assert report.verdict == "pass", report.sections
