"""Specification of the synthetic-data report, tested honestly: a copula fitted on the
generator's own data passes within the documented bounds, copied rows fail privacy, and a table
with shuffled columns fails fidelity."""

from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd
import pytest

from synthetic.churn import GeneratorConfig, generate, write_raw_tables
from synthetic.churn_features import build_feature_tables
from synthetic.copula import GaussianCopula
from synthetic.privacy import Attack, normalised_risk
from synthetic.real_table import RealTables, real_tables
from synthetic.report import FAIL, PASS, Report, Thresholds, build_report
from synthetic.report_html import render_html
from synthetic.singling_out import singling_out, wilson
from synthetic.tabular import column_kinds

TARGET = "churned"
LIMITS = Thresholds()


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> RealTables:
    """The generator's labelled one-row-per-customer table (about 4,100 rows + 1,100 held out)."""
    directory = tmp_path_factory.mktemp("lab")
    config = GeneratorConfig(customers=6000, days=120, seed=1, end=datetime.date(2025, 6, 1))
    write_raw_tables(generate(config), directory / "raw")
    build_feature_tables(directory / "raw", directory / "features")
    return real_tables(directory / "raw", directory / "features", seed=0)


@pytest.fixture(scope="module")
def synthetic(churn: RealTables) -> pd.DataFrame:
    model = GaussianCopula(seed=0, by=TARGET).fit(churn.real)
    return model.sample(len(churn.real))


@pytest.fixture(scope="module")
def report(churn: RealTables, synthetic: pd.DataFrame) -> Report:
    return build_report(churn.real, synthetic, holdout=churn.holdout, target=TARGET)


def _section(report: Report, name: str) -> str:
    return next(s.verdict for s in report.sections if s.name == name)


def test_real_table_is_one_labelled_row_per_active_customer(churn: RealTables) -> None:
    assert "customer_id" not in churn.real.columns
    assert churn.real.columns[-1] == TARGET
    assert {"plan", "region", "tenure_days", "logins_7d", "tickets_30d"} <= set(churn.real)
    assert 0.02 < churn.real[TARGET].mean() < 0.10
    share = len(churn.holdout) / (len(churn.real) + len(churn.holdout))
    assert share == pytest.approx(0.2, abs=0.02)
    assert churn.real.notna().all().all()


def test_copula_on_generator_data_passes_fidelity_within_documented_bounds(report: Report) -> None:
    fid = report.fidelity
    assert fid.max_column_distance <= LIMITS.column_distance_pass
    assert fid.mean_correlation_difference <= LIMITS.correlation_difference_pass
    assert fid.category_coverage == 1.0
    assert fid.novel_categories == 0
    assert _section(report, "fidelity") == PASS


def test_model_trained_on_synthetic_rows_keeps_most_of_the_real_pr_auc(report: Report) -> None:
    use = report.utility
    assert use is not None and use.tstr is not None
    assert use.trtr["pr_auc"] > 2 * use.trtr["positive_rate"]  # the real model learns something
    assert use.pr_auc_ratio >= LIMITS.utility_ratio_pass
    assert _section(report, "utility") == PASS


def test_copula_samples_are_not_closer_to_real_rows_than_unseen_real_rows(report: Report) -> None:
    priv = report.privacy
    assert priv.exact_copy_rate == 0.0
    assert priv.too_close_rate <= LIMITS.too_close_pass
    assert priv.median_dcr_ratio > 0.8
    assert _section(report, "privacy") == PASS
    assert report.verdict == PASS


def test_copying_the_real_rows_is_flagged_as_a_privacy_failure(churn: RealTables) -> None:
    copied = build_report(churn.real, churn.real.copy(), holdout=churn.holdout, target=TARGET)
    assert copied.privacy.exact_copy_rate == 1.0
    assert copied.privacy.inference is not None and copied.privacy.inference.graded_risk > 0.5
    assert _section(copied, "privacy") == FAIL
    assert copied.verdict == FAIL
    assert _section(copied, "fidelity") == PASS  # a copy looks perfect: that is the trap
    reasons = next(s.reasons for s in copied.sections if s.name == "privacy")
    assert any(r.startswith("fail: univariate singling-out risk") for r in reasons)
    assert copied.metrics()["privacy.singling_out_univariate_risk"] > 0.5


def test_resampling_real_rows_with_replacement_still_fails_privacy(churn: RealTables) -> None:
    resampled = churn.real.sample(n=len(churn.real), replace=True, random_state=3)
    result = build_report(churn.real, resampled.reset_index(drop=True), holdout=churn.holdout)
    assert _section(result, "privacy") == FAIL


def test_shuffling_each_column_independently_fails_fidelity(churn: RealTables) -> None:
    rng = np.random.default_rng(5)
    shuffled = churn.real.apply(lambda column: column.to_numpy()[rng.permutation(len(column))])
    result = build_report(churn.real, shuffled, holdout=churn.holdout, target=TARGET)
    assert result.fidelity.max_column_distance == 0.0  # marginals are untouched...
    assert result.fidelity.mean_correlation_difference > LIMITS.correlation_difference_warn
    assert _section(result, "fidelity") == FAIL  # ...but the joint distribution is gone
    assert _section(result, "utility") == FAIL


def test_swapping_column_names_fails_fidelity(churn: RealTables) -> None:
    swapped = churn.real.rename(
        columns={
            "logins_7d": "minutes_90d",
            "minutes_90d": "logins_7d",
            "plan": "region",
            "region": "plan",
        }
    )
    result = build_report(churn.real, swapped[list(churn.real.columns)], holdout=churn.holdout)
    assert result.fidelity.max_column_distance > LIMITS.column_distance_warn
    assert result.fidelity.category_coverage == 0.0
    assert _section(result, "fidelity") == FAIL


def test_report_page_is_self_contained_with_every_section_and_its_plots(
    report: Report, churn: RealTables, synthetic: pd.DataFrame
) -> None:
    page = render_html(report, churn.real, synthetic)
    for section in ("verdicts", "fidelity", "utility", "privacy"):
        assert f"id='{section}'" in page
    assert len(re.findall(r"src='data:image/png;base64,", page)) == 3
    assert not re.search(r"(src|href)=['\"]https?://", page)


def test_attack_risk_is_normalised_and_counts_only_beyond_chance() -> None:
    assert normalised_risk(0.9, 0.5) == pytest.approx(0.8)
    assert normalised_risk(0.4, 0.5) == 0.0
    noise = Attack(success_attacked=0.52, success_control=0.50, rows_attacked=200, rows_control=200)
    assert noise.risk > 0 and not noise.significant and noise.graded_risk == 0.0
    leak = Attack(success_attacked=0.95, success_control=0.50, rows_attacked=200, rows_control=200)
    assert leak.significant and leak.graded_risk == pytest.approx(0.9)


def _independent_split(churn: RealTables) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two halves of the holdout: a "synthetic" table drawn from the same population as the
    real rows but independently of them, and the holdout the attack is controlled with."""
    shuffled = churn.holdout.sample(frac=1.0, random_state=11).reset_index(drop=True)
    half = len(shuffled) // 2
    return shuffled.iloc[:half].reset_index(drop=True), shuffled.iloc[half:].reset_index(drop=True)


def test_copying_the_real_rows_gives_a_clearly_high_singling_out_risk(churn: RealTables) -> None:
    kinds = column_kinds(churn.real, source="real")
    attacks = singling_out(churn.real, churn.real.copy(), kinds, holdout=churn.holdout)
    by_mode = {a.mode: a for a in attacks}
    assert set(by_mode) == {"univariate", "multivariate"}
    assert by_mode["univariate"].attack_rate.value > 0.95  # nearly every predicate hits a person
    for attack in attacks:
        assert attack.significant and attack.graded_risk > LIMITS.singling_out_warn
        assert attack.attack_rate.value > attack.baseline_rate.value + 0.5


def test_copula_singling_out_risk_stays_under_the_documented_bound(report: Report) -> None:
    attacks = report.privacy.singling_out
    assert {a.mode for a in attacks} == {"univariate", "multivariate"}
    for attack in attacks:
        assert attack.attacks >= 50
        assert attack.graded_risk <= LIMITS.singling_out_pass
        assert attack.risk <= LIMITS.singling_out_pass


def test_singling_out_risk_is_zero_within_its_interval_for_an_independent_table(
    churn: RealTables,
) -> None:
    independent, holdout = _independent_split(churn)
    kinds = column_kinds(churn.real, source="real")
    attacks = singling_out(churn.real, independent, kinds, holdout=holdout, seed=1)
    assert len(attacks) == 2
    for attack in attacks:
        assert attack.ci[0] == 0.0 and not attack.significant and attack.graded_risk == 0.0
        # ...although its predicates do single out real rows, by generalisation alone:
        assert attack.attack_rate.value > attack.baseline_rate.value


def test_singling_out_is_deterministic_with_the_seed(churn: RealTables) -> None:
    independent, holdout = _independent_split(churn)
    kinds = column_kinds(churn.real, source="real")
    first, again, other = (
        singling_out(churn.real, independent, kinds, holdout=holdout, seed=seed)
        for seed in (4, 4, 5)
    )
    assert first == again
    assert first != other


def test_singling_out_predicates_match_nulls_only_by_equality() -> None:
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0, 4.0], "c": ["a", "b", None, "a"]})
    kinds = column_kinds(frame, source="t")
    attacks = singling_out(frame, frame.copy(), kinds, attacks=50)
    univariate = next(a for a in attacks if a.mode == "univariate")
    # Unique values x=1, 3, 4, null, c=b, null; extremes x<=1, x>=4: each isolates one row.
    assert univariate.attacks == 8 and univariate.attack_rate == wilson(8, 8)
    assert univariate.control is None  # no holdout: the baseline is the reference
