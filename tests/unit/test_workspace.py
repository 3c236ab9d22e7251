"""The workspace is the one list of what Keel creates under KEEL_HOME, and `wipe` follows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.core.errors import KeelError, WorkspaceNotEmpty
from keel.core.settings import Settings
from keel.core.workspace import ENTRIES, Workspace
from keel.feast_plumbing.feature_store import spark_staging
from keel.ops.infra_config import InfraOptions, StackConfig
from serving.model_files_cache import cache_root

DIRECTORIES = (
    "raw_dir",
    "features_dir",
    "feast_dir",
    "mlflow_dir",
    "artifacts_dir",
    "predictions_dir",
    "model_cache_dir",
    "infra_dir",
    "spark_staging_dir",
    "demo_dir",
    "reports_dir",
)


def test_every_directory_of_the_workspace_is_in_the_list_wipe_accepts(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    tops = {getattr(workspace, name).relative_to(tmp_path).parts[0] for name in DIRECTORIES}
    assert tops == set(ENTRIES)


def test_writers_ask_the_workspace_for_their_directory(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "ws")
    workspace = Workspace.from_settings(settings)
    stack = StackConfig(tmp_path / "x.env", settings, InfraOptions(), extra_env={})

    assert (
        cache_root(settings.home)
        == workspace.model_cache_dir
        == tmp_path / "ws/serving/model-cache"
    )
    assert stack.state_dir == workspace.infra_dir == tmp_path / "ws" / "infra"
    assert spark_staging(settings) == str(workspace.spark_staging_dir)


def test_wipe_deletes_a_workspace_holding_everything_keel_creates(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws").ensure()
    for name in DIRECTORIES:
        directory = getattr(workspace, name)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "some-file").write_text("x")

    workspace.wipe()

    assert not workspace.home.exists()


def test_wipe_refuses_a_directory_holding_what_keel_did_not_create(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path).ensure()
    (tmp_path / "thesis.tex").write_text("years of work")
    (tmp_path / "photos").mkdir()

    with pytest.raises(WorkspaceNotEmpty) as raised:
        workspace.wipe()

    assert isinstance(raised.value, KeelError)
    assert str(raised.value) == (
        f"refusing to wipe {tmp_path}: it holds photos, thesis.tex, which Keel did not create; "
        "move them out or set KEEL_HOME to a dedicated directory"
    )
    assert (tmp_path / "thesis.tex").read_text() == "years of work"
    assert workspace.raw_dir.is_dir()


def test_wipe_refuses_a_file_and_ignores_a_missing_directory(tmp_path: Path) -> None:
    Workspace(tmp_path / "missing").wipe()
    (tmp_path / "file").write_text("x")

    with pytest.raises(WorkspaceNotEmpty, match="it is a file"):
        Workspace(tmp_path / "file").wipe()
    assert (tmp_path / "file").read_text() == "x"
