"""The synthetic-data report: fidelity, utility and privacy, each with a verdict.

Verdicts are ``pass``, ``warn`` or ``fail`` against the documented ``Thresholds``. Without a
holdout (real rows the synthesizer never saw), a seeded 20% of the real table plays that part;
the privacy figures are then only as good as that assumption (the synthesizer saw those rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from keel.core.errors import InvalidInput
from synthetic.fidelity import Fidelity, fidelity
from synthetic.privacy import Privacy, privacy
from synthetic.real_table import split_holdout
from synthetic.tabular import Kind, column_kinds
from synthetic.utility import Utility, utility

PASS, WARN, FAIL = "pass", "warn", "fail"
DEFAULT_HOLDOUT_SHARE = 0.2


@dataclass(frozen=True)
class Thresholds:
    """Verdict bounds; a section passes when every ``pass`` bound holds, fails past a ``warn``."""

    column_distance_pass: float = 0.10
    column_distance_warn: float = 0.20
    correlation_difference_pass: float = 0.05
    correlation_difference_warn: float = 0.10
    coverage_pass: float = 0.95
    coverage_warn: float = 0.80
    utility_ratio_pass: float = 0.80
    utility_ratio_warn: float = 0.60
    exact_copy_margin: float = 0.01
    """Fail when the exact-copy rate exceeds the holdout's own by more than this."""
    too_close_pass: float = 0.10
    too_close_warn: float = 0.20
    attack_risk_pass: float = 0.10
    attack_risk_warn: float = 0.30
    singling_out_pass: float = 0.10
    """Singling-out risk (the larger of univariate and multivariate), when beyond chance."""
    singling_out_warn: float = 0.30


@dataclass(frozen=True)
class Section:
    name: str
    verdict: str
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    rows: dict[str, int]
    kinds: dict[str, Kind]
    fidelity: Fidelity
    utility: Utility | None
    privacy: Privacy
    sections: list[Section]
    holdout_given: bool

    @property
    def verdict(self) -> str:
        verdicts = {s.verdict for s in self.sections}
        return FAIL if FAIL in verdicts else WARN if WARN in verdicts else PASS

    def metrics(self) -> dict[str, float]:
        """The headline numbers, flat (as logged to MLflow)."""
        out = {
            "fidelity.max_column_distance": self.fidelity.max_column_distance,
            "fidelity.mean_column_distance": self.fidelity.mean_column_distance,
            "fidelity.mean_correlation_difference": self.fidelity.mean_correlation_difference,
            "fidelity.category_coverage": self.fidelity.category_coverage,
            "privacy.exact_copy_rate": self.privacy.exact_copy_rate,
            "privacy.holdout_copy_rate": self.privacy.holdout_copy_rate,
            "privacy.too_close_rate": self.privacy.too_close_rate,
            "privacy.median_dcr_ratio": self.privacy.median_dcr_ratio,
        }
        for name in ("inference", "linkability"):
            attack = getattr(self.privacy, name)
            if attack is not None:
                out[f"privacy.{name}_risk"] = attack.risk
        for attack in self.privacy.singling_out:
            out[f"privacy.singling_out_{attack.mode}_risk"] = attack.risk
        if self.utility is not None:
            out["utility.pr_auc_ratio"] = self.utility.pr_auc_ratio
            out["utility.trtr_pr_auc"] = self.utility.trtr["pr_auc"]
            if self.utility.tstr is not None:
                out["utility.tstr_pr_auc"] = self.utility.tstr["pr_auc"]
        return out


def build_report(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    holdout: pd.DataFrame | None = None,
    target: str | None = None,
    thresholds: Thresholds | None = None,
    seed: int = 0,
) -> Report:
    """Compare ``synthetic`` with ``real`` (the rows it was fitted on) and a real holdout."""
    limits = thresholds or Thresholds()
    kinds = column_kinds(real, source="real table")
    _check_same_columns(real, synthetic, "synthetic table", kinds)
    holdout_given = holdout is not None
    if holdout is None:
        real, holdout = split_holdout(real, share=DEFAULT_HOLDOUT_SHARE, seed=seed)
    else:
        _check_same_columns(real, holdout, "holdout table", kinds)
    if target is not None and target not in real.columns:
        raise InvalidInput(f"real table: no target column {target!r}; columns: {list(real)}")
    fid = fidelity(real, synthetic, kinds)
    use = None if target is None else utility(real, synthetic, holdout, target=target, kinds=kinds)
    priv = privacy(real, holdout, synthetic, kinds, secret=target, seed=seed)
    sections = [_fidelity_verdict(fid, limits), _privacy_verdict(priv, limits)]
    if use is not None:
        sections.insert(1, _utility_verdict(use, limits))
    return Report(
        rows={"real": len(real), "holdout": len(holdout), "synthetic": len(synthetic)},
        kinds=kinds,
        fidelity=fid,
        utility=use,
        privacy=priv,
        sections=sections,
        holdout_given=holdout_given,
    )


def _check_same_columns(
    real: pd.DataFrame, other: pd.DataFrame, source: str, kinds: dict[str, Kind]
) -> None:
    missing = [c for c in real.columns if c not in other.columns]
    extra = [c for c in other.columns if c not in real.columns]
    if missing or extra:
        raise InvalidInput(
            f"{source}: columns differ from the real table: missing {missing}, extra {extra}"
        )
    other_kinds = column_kinds(other, source=source)
    for column, kind in kinds.items():
        if other_kinds[column] != kind:
            raise InvalidInput(
                f"{source}: column {column!r} is {other_kinds[column]} but {kind} in the real table"
            )


def _grade(value: float, good: float, bad: float, *, higher_is_better: bool = False) -> str:
    if higher_is_better:
        return PASS if value >= good else WARN if value >= bad else FAIL
    return PASS if value <= good else WARN if value <= bad else FAIL


def _worst(grades: list[str]) -> str:
    return FAIL if FAIL in grades else WARN if WARN in grades else PASS


def _fidelity_verdict(fid: Fidelity, t: Thresholds) -> Section:
    worst = max(fid.columns, key=lambda c: c.distance, default=None)
    checks = [
        (
            _grade(fid.max_column_distance, t.column_distance_pass, t.column_distance_warn),
            f"largest column distance {fid.max_column_distance:.3f}"
            + (f" ({worst.column}, {worst.statistic})" if worst else "")
            + f"; pass <= {t.column_distance_pass}",
        ),
        (
            _grade(
                fid.mean_correlation_difference,
                t.correlation_difference_pass,
                t.correlation_difference_warn,
            ),
            f"mean correlation difference {fid.mean_correlation_difference:.3f}; "
            f"pass <= {t.correlation_difference_pass}",
        ),
        (
            _grade(fid.category_coverage, t.coverage_pass, t.coverage_warn, higher_is_better=True)
            if fid.novel_categories == 0
            else FAIL,
            f"category coverage {fid.category_coverage:.1%}, {fid.novel_categories} novel "
            f"categories; pass >= {t.coverage_pass:.0%} and none novel",
        ),
    ]
    return Section("fidelity", _worst([g for g, _ in checks]), [f"{g}: {r}" for g, r in checks])


def _utility_verdict(use: Utility, t: Thresholds) -> Section:
    if use.tstr is None:
        return Section("utility", FAIL, ["fail: the synthetic table holds a single target class"])
    grade = _grade(
        use.pr_auc_ratio, t.utility_ratio_pass, t.utility_ratio_warn, higher_is_better=True
    )
    reason = (
        f"{grade}: PR AUC trained on synthetic {use.tstr['pr_auc']:.3f} vs on real "
        f"{use.trtr['pr_auc']:.3f} (ratio {use.pr_auc_ratio:.2f}; pass >= {t.utility_ratio_pass})"
    )
    return Section("utility", grade, [reason])


def _privacy_verdict(priv: Privacy, t: Thresholds) -> Section:
    copy_limit = priv.holdout_copy_rate + t.exact_copy_margin
    checks = [
        (
            PASS if priv.exact_copy_rate <= copy_limit else FAIL,
            f"exact copies {priv.exact_copy_rate:.1%} (holdout {priv.holdout_copy_rate:.1%}); "
            f"fail above {copy_limit:.1%}",
        ),
        (
            _grade(priv.too_close_rate, t.too_close_pass, t.too_close_warn),
            f"{priv.too_close_rate:.1%} of synthetic rows closer than 95% of holdout rows "
            f"(ideal 5%); pass <= {t.too_close_pass:.0%}",
        ),
    ]
    for name in ("inference", "linkability"):
        attack = getattr(priv, name)
        if attack is not None:
            note = "" if attack.significant else " (not beyond chance)"
            checks.append(
                (
                    _grade(attack.graded_risk, t.attack_risk_pass, t.attack_risk_warn),
                    f"{name} risk {attack.risk:.3f}{note}; pass <= {t.attack_risk_pass}",
                )
            )
    for so in priv.singling_out:
        low, high = so.ci
        note = "" if so.significant else ", not beyond chance"
        checks.append(
            (
                _grade(so.graded_risk, t.singling_out_pass, t.singling_out_warn),
                f"{so.mode} singling-out risk {so.risk:.3f} (95% CI {low:.3f}-{high:.3f}, "
                f"{so.attacks} predicates{note}); pass <= {t.singling_out_pass}",
            )
        )
    return Section("privacy", _worst([g for g, _ in checks]), [f"{g}: {r}" for g, r in checks])
