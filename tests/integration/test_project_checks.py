"""keel.yaml checked against a real Feast registry: the delivery example applied with Feast's own
CLI into a temporary directory, then each bad label table refused in one line naming the file,
the model and the field (exit 2), and the good one summarised."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from feast import FeatureService, FeatureStore
from typer.testing import CliRunner

from keel.cli.main import app
from keel.core.errors import InvalidLabels, InvalidProject, UnknownFeatureService
from keel.core.project import load_project
from keel.core.settings import get_settings
from keel.feast_plumbing.project_checks import check_project
from tests.integration.delivery_example import applied_example

pytestmark = pytest.mark.integration

runner = CliRunner()


@dataclass(frozen=True)
class Applied:
    """The example copied, generated small and applied by `feast apply`."""

    root: Path
    orders: pd.DataFrame

    @property
    def config(self) -> Path:
        return self.root / "keel.yaml"


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Applied:
    root = applied_example(tmp_path_factory.mktemp("delivery"))
    store = FeatureStore(repo_path=str(root / "feature_repo"))
    lists_only = store.get_feature_view("courier_stats")[["recent_zones"]]
    store.apply([FeatureService(name="lists_only_v1", features=[lists_only])])
    return Applied(root=root, orders=pd.read_parquet(root / "data" / "orders.parquet"))


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("COLUMNS", "400")  # one message on one line, whatever the path length
    monkeypatch.delenv("KEEL_CONFIG", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_example_summary_has_the_services_keys_fields_and_label_figures(
    applied: Applied, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="keel.feast_plumbing.project_checks"):
        eta, late = check_project(load_project(applied.config))
    orders = applied.orders
    for summary in (eta, late):
        keys = [(key.name, key.dtype) for key in summary.service.join_keys]
        assert keys == [("courier_id", "String"), ("zone_id", "String")]
        request = [(field.name, field.dtype) for field in summary.service.request_fields]
        assert request == [("distance_km", "Float64"), ("order_hour", "Int64")]
        assert summary.labels.rows == len(orders)
        assert summary.labels.entities == len(orders.drop_duplicates(["courier_id", "zone_id"]))
        assert summary.labels.start == orders["event_timestamp"].min()
        assert summary.labels.end == orders["event_timestamp"].max()
    kinds = {f.ref: f.kind for f in eta.service.features}
    assert kinds["courier_stats:vehicle"] == kinds["zone_conditions:zone_type"] == "categorical"
    assert kinds["courier_zone_stats:deliveries_in_zone_28d"] == "numeric"
    assert kinds["order_features:distance_x_traffic"] == "numeric"
    assert [f.ref for f in eta.service.skipped] == ["courier_stats:recent_zones"]
    assert not late.service.skipped  # its service projects courier_stats without the list
    assert "courier_stats:deliveries_7d" not in {f.ref for f in late.service.features}
    assert eta.labels.label_mean == pytest.approx(orders["delivery_minutes"].mean())
    assert late.labels.label_rate == pytest.approx(orders["is_late"].mean())
    assert eta.labels.label_rate is None and late.labels.label_mean is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "model 'delivery_minutes': feature service 'delivery_eta_v1': leaving out features "
        "Keel cannot model: courier_stats:recent_zones (Array(String))"
    ]


def test_project_check_prints_a_table_per_model_and_exits_0(applied: Applied) -> None:
    result = runner.invoke(app, ["project", "check"], env={"KEEL_CONFIG": str(applied.config)})
    assert result.exit_code == 0, result.output
    for text in ("delivery_minutes (regression)", "late_delivery (binary)", "delivery_eta_v1"):
        assert text in result.output
    assert "courier_id (String), zone_id (String)" in result.output
    assert f"{len(applied.orders):,}" in result.output
    assert "2 model(s) ready" in result.output


Change = Callable[[pd.DataFrame], pd.DataFrame]


def _drop(column: str) -> Change:
    return lambda frame: frame.drop(columns=[column])


def _set(column: str, row: int, value: int | str) -> Change:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        values: pd.Series = frame[column].astype(str if isinstance(value, str) else "int64")
        values.iloc[row] = value
        return frame.assign(**{column: values})

    return change


def _naive(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(event_timestamp=frame["event_timestamp"].dt.tz_localize(None))


def _duplicate(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.iloc[[5]]], ignore_index=True)


# (case, model, change to the label table, field the message must name, words it must hold)
BAD_LABELS: list[tuple[str, str, Change, str, list[str]]] = [
    (
        "missing join key",
        "late_delivery",
        _drop("zone_id"),
        "zone_id",
        ["join key", "late_risk_v1"],
    ),
    (
        "missing request field",
        "delivery_minutes",
        _drop("distance_km"),
        "distance_km",
        ["request field", "delivery_eta_v1"],
    ),
    ("missing label", "delivery_minutes", _drop("delivery_minutes"), "delivery_minutes", ["label"]),
    ("binary label 2", "late_delivery", _set("is_late", 3, 2), "is_late", ["0/1", "row 4"]),
    (
        "regression label text",
        "delivery_minutes",
        _set("delivery_minutes", 0, "late"),
        "delivery_minutes",
        ["finite numbers", "'late'", "row 1"],
    ),
    ("timestamps without zone", "late_delivery", _naive, "event_timestamp", ["time zone"]),
    (
        "duplicate keys and time",
        "delivery_minutes",
        _duplicate,
        "event_timestamp",
        ["courier_id", "zone_id", "duplicate key", "rows 6 and"],
    ),
    (
        "number join key",
        "late_delivery",
        lambda f: f.assign(courier_id=range(len(f))),
        "courier_id",
        ["text", "found 0"],
    ),
    ("one class only", "late_delivery", lambda f: f.assign(is_late=0), "is_late", ["both classes"]),
]


def _project_with(applied: Applied, tmp_path: Path, model: str, labels: Path) -> Path:
    """A keel.yaml beside the example's, with `model` reading `labels`."""
    content = yaml.safe_load(applied.config.read_text())
    content["feature_repo"] = str(applied.root / "feature_repo")
    content["models"] = [
        {**m, "labels": str(labels)} for m in content["models"] if m["name"] == model
    ]
    path = tmp_path / "keel.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


@pytest.mark.parametrize(
    ("model", "change", "field", "words"),
    [case[1:] for case in BAD_LABELS],
    ids=[case[0] for case in BAD_LABELS],
)
def test_bad_label_table_is_one_line_naming_file_model_and_field(
    applied: Applied, tmp_path: Path, model: str, change: Change, field: str, words: list[str]
) -> None:
    labels = tmp_path / "labels.parquet"
    change(applied.orders.copy()).to_parquet(labels)
    config = _project_with(applied, tmp_path, model, labels)
    with pytest.raises(InvalidLabels):
        check_project(load_project(config))
    result = runner.invoke(app, ["project", "check"], env={"KEEL_CONFIG": str(config)})
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "error" not in result.stdout
    for word in [str(labels), repr(model), repr(field), *words]:
        assert word in lines[0], lines[0]


def test_csv_labels_keep_string_keys_as_written(applied: Applied, tmp_path: Path) -> None:
    orders = applied.orders.assign(courier_id=applied.orders["courier_id"].str.replace("c-", "0"))
    labels = tmp_path / "labels.csv"
    orders.to_csv(labels, index=False)  # keys like 00012: numbers to a CSV reader that guesses
    config = _project_with(applied, tmp_path, "late_delivery", labels)
    (summary,) = check_project(load_project(config))
    assert summary.labels.rows == len(orders)


def test_unknown_feature_service_names_the_project_file_and_the_model(
    applied: Applied, tmp_path: Path
) -> None:
    config = _project_with(applied, tmp_path, "late_delivery", applied.root / "data/orders.parquet")
    config.write_text(config.read_text().replace("late_risk_v1", "late_risk_v9"))
    with pytest.raises(UnknownFeatureService, match="late_risk_v1, lists_only_v1"):
        check_project(load_project(config))
    result = runner.invoke(app, ["project", "check", "--config", str(config)])
    assert result.exit_code == 2, result.output
    line = " ".join(result.output.split())
    for word in (str(config), "'late_delivery'", "feature_service 'late_risk_v9'", "feast apply"):
        assert word in line, line


def test_service_with_only_unmodellable_features_is_refused(
    applied: Applied, tmp_path: Path
) -> None:
    config = _project_with(applied, tmp_path, "late_delivery", applied.root / "data/orders.parquet")
    config.write_text(config.read_text().replace("late_risk_v1", "lists_only_v1"))
    with pytest.raises(InvalidProject, match=r"no feature Keel can model.*recent_zones \(Array"):
        check_project(load_project(config))


def test_repo_never_applied_is_refused_with_the_fix(applied: Applied, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(applied.root / "feature_repo" / "feature_store.yaml", repo)
    config = _project_with(applied, tmp_path, "late_delivery", applied.root / "data/orders.parquet")
    config.write_text(config.read_text().replace(str(applied.root / "feature_repo"), str(repo)))
    with pytest.raises(InvalidProject, match="holds no feature service: run `feast apply`"):
        check_project(load_project(config))


def test_no_project_file_is_refused_by_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["project", "check"])
    assert result.exit_code == 2, result.output
    assert "no project file" in result.output and "KEEL_CONFIG" in result.output
