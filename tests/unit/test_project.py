"""keel.yaml: its model, defaults, discovery, and one line naming the key for a malformed file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from keel.core.errors import InvalidProject, ModelNotFound
from keel.core.project import (
    CANDIDATES,
    Split,
    discover_project,
    find_project,
    load_project,
)

MODEL: dict[str, object] = {
    "name": "eta",
    "feature_service": "eta_v1",
    "labels": "data/orders.parquet",
    "label": "minutes",
    "task": "regression",
}
MINIMAL: dict[str, object] = {"feature_repo": "repo", "models": [MODEL]}


def write(directory: Path, content: object, name: str = "keel.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


def with_model(**changes: object) -> dict[str, object]:
    model = {**MODEL, **changes}
    return {**MINIMAL, "models": [{k: v for k, v in model.items() if v is not None}]}


def test_optional_keys_take_their_documented_defaults(tmp_path: Path) -> None:
    model = load_project(write(tmp_path, MINIMAL)).model("eta")
    assert model.timestamp == "event_timestamp"
    assert model.split == Split(train=0.7, valid=0.15, test=0.15)
    assert model.gate_margin == 0.01
    assert model.fn_cost is None and model.fp_cost is None
    assert model.candidate_names == (
        "mean_baseline",
        "median_baseline",
        "one_rule",
        "ridge",
        "gradient_boosting",
    )


def test_paths_resolve_against_the_project_file_not_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "project", MINIMAL)
    monkeypatch.chdir(tmp_path)
    project = load_project(Path("project/keel.yaml"))
    assert project.path == path
    assert project.feature_repo == tmp_path / "project" / "repo"
    assert project.models[0].labels == tmp_path / "project" / "data" / "orders.parquet"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    labels = tmp_path / "elsewhere" / "labels.csv"
    project = load_project(write(tmp_path / "p", with_model(labels=str(labels))))
    assert project.models[0].labels == labels


def test_chosen_candidates_follow_the_baselines_in_simplest_first_order(tmp_path: Path) -> None:
    chosen = with_model(task="binary", label="late", candidates=["gradient_boosting", "one_rule"])
    model = load_project(write(tmp_path, chosen)).models[0]
    assert model.candidate_names == ("baseline", "one_rule", "gradient_boosting")
    assert set(model.candidate_names) <= {"baseline", *CANDIDATES["binary"]}


def test_model_is_found_by_name_or_as_the_only_one(tmp_path: Path) -> None:
    two = {**MINIMAL, "models": [MODEL, {**MODEL, "name": "b"}]}
    project = load_project(write(tmp_path, two))
    assert project.model("b").name == "b"
    with pytest.raises(ModelNotFound, match="several models"):
        project.model()
    with pytest.raises(ModelNotFound, match=r"no model 'c': expected one of eta, b"):
        project.model("c")
    assert load_project(write(tmp_path / "one", MINIMAL)).model().name == "eta"


def test_keel_config_names_the_file_wherever_the_current_directory_is(tmp_path: Path) -> None:
    named = write(tmp_path / "a", MINIMAL, name="other.yaml")
    write(tmp_path / "b", MINIMAL)  # a keel.yaml in the current directory loses to KEEL_CONFIG
    found = find_project(tmp_path / "b", {"KEEL_CONFIG": str(named)})
    assert found == named
    relative = find_project(tmp_path, {"KEEL_CONFIG": "a/other.yaml"})
    assert relative == named


def test_keel_yaml_in_the_current_directory_is_found(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    assert find_project(tmp_path, {}) == path
    project = discover_project(tmp_path, {})
    assert project is not None and project.path == path


def test_without_a_project_file_there_is_no_project(tmp_path: Path) -> None:
    assert find_project(tmp_path, {}) is None
    assert discover_project(tmp_path, {"KEEL_CONFIG": "  "}) is None


def test_keel_config_naming_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidProject, match=r"^KEEL_CONFIG=nope.yaml: no such file$"):
        find_project(tmp_path, {"KEEL_CONFIG": "nope.yaml"})


# (case, file content, words the one-line message must hold besides the file)
MALFORMED: list[tuple[str, object, list[str]]] = [
    ("empty file", "", ["expected a mapping", "an empty file"]),
    ("not a mapping", "- a\n- b\n", ["expected a mapping", "list"]),
    ("yaml syntax", "feature_repo: [repo\nmodels: x\n", ["not valid YAML", "line"]),
    ("unknown top-level key", {**MINIMAL, "feature_store": "x"}, ["key feature_store", "unknown"]),
    ("no models", {**MINIMAL, "models": []}, ["key models", "at least 1"]),
    ("missing feature_repo", {"models": MINIMAL["models"]}, ["key feature_repo", "missing"]),
    ("misspelt model key", with_model(lables="x.parquet"), ["models[0] (eta).lables", "unknown"]),
    ("missing label", with_model(label=None), ["models[0] (eta).label", "missing"]),
    ("unknown task", with_model(task="classification"), ["(eta).task", "'classification'"]),
    ("label file kind", with_model(labels="orders.txt"), ["(eta).labels", ".parquet or .csv"]),
    (
        "split over one",
        with_model(split={"train": 0.8, "valid": 0.2, "test": 0.2}),
        ["(eta).split", "must be 1"],
    ),
    ("split key", with_model(split={"training": 0.8}), ["(eta).split.training", "unknown"]),
    (
        "candidate of the other task",
        with_model(candidates=["logistic_regression"]),
        ["models[0] (eta)", "candidates", "ridge", "logistic_regression"],
    ),
    (
        "one cost only",
        with_model(task="binary", fn_cost=5.0),
        ["models[0] (eta)", "fn_cost and fp_cost"],
    ),
    ("costs on regression", with_model(fn_cost=5.0, fp_cost=1.0), ["(eta)", "binary threshold"]),
    ("negative margin", with_model(gate_margin=-0.1), ["(eta).gate_margin", "-0.1"]),
    (
        "bad model name",
        with_model(name="my model"),
        ["models[0] (my model).name", "got 'my model'"],
    ),
    (
        "duplicate names",
        {**MINIMAL, "models": [MODEL, MODEL]},
        ["key models", "eta repeats"],
    ),
]


@pytest.mark.parametrize(
    ("content", "words"), [(c, w) for _, c, w in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_project_file_is_one_line_naming_the_file_and_the_key(
    tmp_path: Path, content: object, words: list[str]
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(InvalidProject) as raised:
        load_project(path)
    message = raised.value.message
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    for word in words:
        assert word in message, message
