"""The project file, `keel.yaml`: a data scientist's Feast repo and the models trained on it.

```yaml
feature_repo: feature_repo           # a standard Feast repo (holds feature_store.yaml)
models:
  - name: delivery_minutes           # the MLflow registered model
    feature_service: delivery_eta_v1
    labels: data/orders.parquet      # Parquet or CSV: join keys, timestamp, request fields, label
    label: delivery_minutes
    task: regression                 # binary | regression
    # optional, with their defaults:
    timestamp: event_timestamp       # when the prediction would have been made (UTC)
    split: {train: 0.7, valid: 0.15, test: 0.15}   # fractions of rows, in time order
                                     # or {by: snapshots}: last time tests, the one before validates
    candidates: [one_rule, ridge, gradient_boosting]  # all of the task's; baselines always run
    gate_margin: 0.01                # binary: PR AUC over the baseline; regression: 1% of MAE
    fn_cost: 5.0                     # binary only, with fp_cost: threshold by cost, not max F1
    fp_cost: 1.0
```

Paths are relative to the directory of keel.yaml. The file is found by `find_project`:
`KEEL_CONFIG` names it, else `keel.yaml` in the current directory, else there is none and Keel
runs its built-in churn example. A malformed file is one `InvalidProject` line naming the file
and the key. What the file says about the Feast repo is checked in
`keel.feast_plumbing.project_checks`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from keel.core.errors import InvalidProject, ModelNotFound

FILE_NAME = "keel.yaml"
CONFIG_ENV = "KEEL_CONFIG"
Task = Literal["binary", "regression"]

# The candidates a model may list, per task, simplest first. Baselines always run: the gate
# compares against them.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "binary": ("one_rule", "logistic_regression", "gradient_boosting"),
    "regression": ("one_rule", "ridge", "gradient_boosting"),
}
BASELINES: dict[str, tuple[str, ...]] = {
    "binary": ("baseline",),
    "regression": ("mean_baseline", "median_baseline"),
}


def unknown_candidates(task: Task, names: Sequence[str]) -> list[str] | None:
    """The names not among the task's `CANDIDATES`; None when all are known (and there is one
    at least): callers word the refusal for where the names came from."""
    known = CANDIDATES[task]
    unknown = [name for name in names if name not in known]
    return unknown if unknown or not names else None


_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_LABEL_SUFFIXES = (".parquet", ".csv")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Split(_Strict):
    """Fractions of the label rows, in `timestamp` order: the earliest train, then validation,
    then test (no row of a later set is older than a row of an earlier one).

    `by: snapshots` is for a label table of periodic snapshots (every entity at a few moments):
    the last timestamp tests, the one before it validates, every earlier one trains; the
    fractions do not apply."""

    by: Literal["rows", "snapshots"] = "rows"
    train: float = Field(default=0.7, gt=0, lt=1)
    valid: float = Field(default=0.15, gt=0, lt=1)
    test: float = Field(default=0.15, gt=0, lt=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> Self:
        if self.by == "snapshots":
            given = sorted(self.model_fields_set - {"by"})
            if given:
                raise ValueError(f"by: snapshots takes no fractions, got {', '.join(given)}")
            return self
        total = self.train + self.valid + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + valid + test must be 1, got {total:g}")
        return self


class ModelSpec(_Strict):
    """One model of the project: what it predicts, from which feature service and label table."""

    name: str
    feature_service: str = Field(min_length=1)
    labels: Path
    label: str = Field(min_length=1)
    task: Task
    timestamp: str = Field(default="event_timestamp", min_length=1)
    split: Split = Split()
    candidates: tuple[str, ...] | None = None
    """None: every candidate of the task (`CANDIDATES`); the task's baselines always run."""
    gate_margin: float = Field(default=0.01, ge=0, lt=1)
    """Binary: test PR AUC the model must add over the baseline. Regression: the fraction by
    which its test MAE must beat the best baseline's (0.01 = 1%)."""
    fn_cost: float | None = Field(default=None, gt=0)
    fp_cost: float | None = Field(default=None, gt=0)

    @field_validator("name")
    @classmethod
    def _registrable(cls, value: str) -> str:
        if not _MODEL_NAME.match(value):
            raise ValueError(
                "a model name starts with a letter or digit and holds only letters, digits, "
                f"'_', '.', '-' (at most 100), got {value!r}"
            )
        return value

    @field_validator("labels")
    @classmethod
    def _label_file(cls, value: Path, info: ValidationInfo) -> Path:
        if value.suffix.lower() not in _LABEL_SUFFIXES:
            raise ValueError(f"expected a .parquet or .csv file, got {str(value)!r}")
        return _resolve(value, info)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.candidates is not None:
            unknown = unknown_candidates(self.task, self.candidates)
            if unknown is not None:
                raise ValueError(
                    f"candidates: expected some of {', '.join(CANDIDATES[self.task])} for a "
                    f"{self.task} model, got {', '.join(unknown) or 'none'}"
                )
        if (self.fn_cost is None) != (self.fp_cost is None):
            raise ValueError("fn_cost and fp_cost go together: give both or neither")
        if self.task == "regression" and self.fn_cost is not None:
            raise ValueError("fn_cost/fp_cost choose a binary threshold: not for a regression")
        if self.label == self.timestamp:
            raise ValueError(f"label and timestamp name the same column {self.label!r}")
        return self

    @property
    def candidate_names(self) -> tuple[str, ...]:
        """Every candidate trained, simplest first: the baselines, then the chosen ones."""
        chosen = self.candidates or CANDIDATES[self.task]
        return (*BASELINES[self.task], *(c for c in CANDIDATES[self.task] if c in chosen))


class Project(_Strict):
    """The whole keel.yaml: one Feast repo, one or more models."""

    feature_repo: Path
    models: tuple[ModelSpec, ...] = Field(min_length=1)
    _path: Path = PrivateAttr(default=Path(FILE_NAME))

    @field_validator("feature_repo")
    @classmethod
    def _repo(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve(value, info)

    @field_validator("models")
    @classmethod
    def _unique_names(cls, value: tuple[ModelSpec, ...]) -> tuple[ModelSpec, ...]:
        names = [model.name for model in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"each model name must appear once, {', '.join(twice)} repeats")
        return value

    @property
    def path(self) -> Path:
        """The keel.yaml this project was read from (absolute)."""
        return self._path

    def model(self, name: str | None = None) -> ModelSpec:
        """The model called `name`; without a name, the only model (or `ModelNotFound`)."""
        if name is None and len(self.models) == 1:
            return self.models[0]
        names = ", ".join(model.name for model in self.models)
        if name is None:
            raise ModelNotFound(f"{self.path}: several models ({names}): name one of them")
        for model in self.models:
            if model.name == name:
                return model
        raise ModelNotFound(f"{self.path}: no model {name!r}: expected one of {names}")


def find_project(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The project file: `KEEL_CONFIG` if set (it must exist), else `keel.yaml` in `cwd` (the
    current directory) if there is one, else None: Keel runs its built-in churn example."""
    environ = os.environ if environ is None else environ
    named = environ.get(CONFIG_ENV, "").strip()
    if named:
        path = Path(named).expanduser()
        path = path if path.is_absolute() else (cwd or Path.cwd()) / path
        if not path.is_file():
            raise InvalidProject(f"{CONFIG_ENV}={named}: no such file")
        return path.resolve()
    candidate = (cwd or Path.cwd()) / FILE_NAME
    return candidate.resolve() if candidate.is_file() else None


def discover_project(
    cwd: Path | None = None, environ: Mapping[str, str] | None = None
) -> Project | None:
    """The project found by `find_project`, loaded and validated; None without a project file."""
    path = find_project(cwd, environ)
    return None if path is None else load_project(path)


def load_project(path: Path) -> Project:
    """keel.yaml at `path` as a `Project` with absolute paths, or one `InvalidProject` line."""
    path = Path(path).resolve()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidProject(f"{path}: cannot read the file ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise InvalidProject(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise InvalidProject(
            f"{path}: expected a mapping with keys feature_repo and models, "
            f"got {type(data).__name__ if data is not None else 'an empty file'}"
        )
    try:
        project = Project.model_validate(data, context={"base": path.parent})
    except ValidationError as error:
        raise InvalidProject(f"{path}: {describe_error(error, data)}") from None
    project._path = path
    return project


def describe_error(error: ValidationError, data: Mapping[str, Any]) -> str:
    """Pydantic's first error as one phrase naming the key (`models[1] (eta).task: ...`)."""
    errors = error.errors()
    first = errors[0]
    key = _key(first["loc"], data)
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key (check its spelling against keel.yaml's documented keys)"
    elif first["type"] == "missing":
        message = "missing (required)"
    elif "input" in first and first["type"] != "value_error":
        message += f", got {first['input']!r}"
    # A failed item also fails its list's length rule: count only errors not enclosing another.
    more = sum(
        1
        for other in errors[1:]
        if not any(e["loc"][: len(other["loc"])] == other["loc"] for e in errors if e is not other)
    )
    return f"key {key}: {message}" + (f" (and {more} more)" if more else "")


def _key(loc: Sequence[int | str], data: Mapping[str, Any]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            if text.startswith("models"):
                text += _model_name(data, part)
        else:
            text += ("." if text else "") + part
    return text or "(top level)"


def _model_name(data: Mapping[str, Any], index: int) -> str:
    models = data.get("models")
    if isinstance(models, list) and index < len(models) and isinstance(models[index], dict):
        name = models[index].get("name")
        if isinstance(name, str):
            return f" ({name})"
    return ""


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """`value` made absolute against keel.yaml's directory (the validation context's `base`)."""
    base = (info.context or {}).get("base")
    value = value.expanduser()
    if value.is_absolute() or base is None:
        return value
    return (Path(base) / value).resolve()
