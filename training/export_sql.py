"""A logistic-regression pipeline as one SQL expression (scaling folded into the weights).

Portable scoring: the model runs wherever the features are (DuckDB, PostgreSQL, a warehouse),
and a reader sees exactly what each feature weighs.
"""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from keel.core.errors import InvalidInput


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _number(value: float) -> str:
    return repr(float(value))


def _steps(pipeline: Pipeline) -> tuple[ColumnTransformer, LogisticRegression]:
    classifier = pipeline.steps[-1][1]
    preprocess = pipeline.steps[0][1] if len(pipeline.steps) == 2 else None
    if not isinstance(classifier, LogisticRegression) or not isinstance(
        preprocess, ColumnTransformer
    ):
        raise InvalidInput(
            f"not exportable to SQL: the model is a {type(classifier).__name__}; only Keel's "
            "logistic-regression pipelines (scaled numeric + one-hot categorical) export"
        )
    return preprocess, classifier


def logit_sql(pipeline: Pipeline) -> str:
    """The model's log-odds as a SQL expression over the raw feature columns."""
    preprocess, classifier = _steps(pipeline)
    coefficients = iter(classifier.coef_[0])
    constant = float(classifier.intercept_[0])
    terms: list[str] = []
    for name, transformer, columns in preprocess.transformers_:
        if name == "remainder" or transformer == "drop":
            continue
        steps = dict(transformer.steps) if isinstance(transformer, Pipeline) else {}
        imputer, scaler, encoder = steps.get("impute"), steps.get("scale"), steps.get("encode")
        if isinstance(scaler, StandardScaler) and isinstance(imputer, SimpleImputer):
            for column, fill, mean, scale in zip(
                columns, imputer.statistics_, scaler.mean_, scaler.scale_, strict=True
            ):
                weight = next(coefficients) / scale
                constant -= weight * mean
                value = f"COALESCE(CAST({_quote_identifier(column)} AS DOUBLE), {_number(fill)})"
                terms.append(f"{_number(weight)} * {value}")
        elif isinstance(encoder, OneHotEncoder) and isinstance(imputer, SimpleImputer):
            fill = imputer.statistics_[0] if imputer.strategy == "constant" else None
            for column, categories in zip(columns, encoder.categories_, strict=True):
                raw = f"CAST({_quote_identifier(column)} AS VARCHAR)"
                value = f"COALESCE({raw}, {_quote_literal(fill)})"
                for category in categories:
                    weight = next(coefficients)
                    terms.append(
                        f"{_number(weight)} * CASE WHEN {value} = {_quote_literal(category)} "
                        "THEN 1 ELSE 0 END"
                    )
        else:
            raise InvalidInput(f"not exportable to SQL: unsupported preprocessing step {name!r}")
    return " + ".join([_number(constant), *terms])


def probability_sql(pipeline: Pipeline) -> str:
    """The probability as a SQL expression: 1 / (1 + exp(-log_odds))."""
    return f"1.0 / (1.0 + exp(-({logit_sql(pipeline)})))"
