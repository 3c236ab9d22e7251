"""Per-row explanations for linear pipelines: coefficient x scaled value, per input feature."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from keel.core.errors import InvalidInput


def _parts(pipeline: Pipeline) -> tuple[object, LogisticRegression]:
    classifier = pipeline.steps[-1][1]
    if not isinstance(classifier, LogisticRegression) or len(pipeline.steps) < 2:
        raise InvalidInput(
            f"contributions need a preprocess + LogisticRegression pipeline, "
            f"got {type(classifier).__name__}"
        )
    return pipeline.steps[-2][1], classifier


def linear_contributions(pipeline: Pipeline, frame: pd.DataFrame) -> pd.DataFrame:
    """Log-odds contribution of each input feature for each row (one-hot columns summed back
    into their feature). The row sums plus the intercept equal the model's log-odds."""
    preprocess, classifier = _parts(pipeline)
    transformed = preprocess.transform(frame)  # type: ignore[attr-defined]
    if hasattr(transformed, "toarray"):
        transformed = transformed.toarray()
    per_column = np.asarray(transformed, dtype=float) * classifier.coef_[0]
    names = preprocess.get_feature_names_out()  # type: ignore[attr-defined]
    inputs = list(pipeline.feature_names_in_)
    out = pd.DataFrame(0.0, index=frame.index, columns=inputs)
    for j, name in enumerate(names):
        source = _source_feature(str(name), inputs)
        out[source] += per_column[:, j]
    return out


def _source_feature(output_name: str, inputs: list[str]) -> str:
    """`numeric__logins_7d` -> `logins_7d`; `categorical__plan_basic` -> `plan`."""
    bare = output_name.split("__", 1)[-1]
    if bare in inputs:
        return bare
    matches = [f for f in inputs if bare.startswith(f"{f}_")]
    return max(matches, key=len) if matches else bare


def top_contributions(contributions: pd.Series, top: int = 5) -> list[tuple[str, float]]:
    """The `top` features with the largest absolute contribution, largest first."""
    order = contributions.abs().sort_values(ascending=False).index[:top]
    return [(str(name), float(contributions[name])) for name in order]
