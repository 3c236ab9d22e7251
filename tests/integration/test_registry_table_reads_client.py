"""The server's registry client reads aliases from MLflow's own tables exactly as `MlflowClient`
answers them (version, run, source, tags), on SQLite and PostgreSQL, and follows alias moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_helpers import BACKENDS, register_versions, registry_settings

from keel.core.errors import ModelNotFound
from keel.core.settings import Settings
from registry.client import mlflow_client
from registry.models import resolve_version
from registry.registry_client import TableReadsClient, serving_registry_client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp(f"reads-{request.param}") / "keel-home"
    with registry_settings(request.param, home) as settings:
        yield settings


def test_alias_reads_equal_mlflows_and_follow_moves(backend: Settings, tmp_path: Path) -> None:
    name = register_versions(backend, ["passed", "failed", "passed"])
    mlflow = mlflow_client(backend)
    reads = serving_registry_client(backend)
    assert isinstance(reads, TableReadsClient)
    for alias, version in (("champion", "1"), ("champion", "3"), ("challenger", "2")):
        mlflow.set_registered_model_alias(name, alias, version)
        expected = mlflow.get_model_version_by_alias(name, alias)
        found = resolve_version(reads, name, alias)
        assert str(found.version) == str(expected.version) == version
        assert (found.name, found.run_id, found.source) == (
            expected.name,
            expected.run_id,
            expected.source,
        )
        assert found.tags == expected.tags
    mlflow.delete_registered_model_alias(name, "challenger")
    with pytest.raises(ModelNotFound, match=f"model {name}@challenger not found"):
        resolve_version(reads, name, "challenger")
    with pytest.raises(ModelNotFound, match="model nobody@champion not found"):
        resolve_version(reads, "nobody", "champion")
    # A version's files and its run's local artifacts: from the tables too, no MLflow client.
    assert reads.get_model_version_download_uri(name, "3") == str(
        mlflow.get_model_version_download_uri(name, "3")
    )
    run_id = str(resolve_version(reads, name, "champion").run_id)
    mlflow.log_text(run_id, '{"rows": 3}', "monitoring/profile.json")
    copied = reads.download_artifacts(run_id, "monitoring/profile.json", str(tmp_path))
    assert Path(copied).read_text() == '{"rows": 3}'
    assert reads._client is None
    with pytest.raises(OSError):  # as MLflow's local store does for a missing file
        reads.download_artifacts(run_id, "monitoring/absent.json", str(tmp_path))
