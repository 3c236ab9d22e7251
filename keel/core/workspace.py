"""The workspace: one directory (`KEEL_HOME`, default `./.keel`) that holds all generated state.

`Workspace` is the one list of what Keel creates there: every directory has a property below,
the code that writes into a directory asks for it here, and `wipe` deletes a workspace only if
it holds nothing but these entries (so `KEEL_HOME=~` is never wiped by `keel demo --fresh`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from keel.core.errors import WorkspaceNotEmpty
from keel.core.settings import Settings

DATA = "data"
FEAST = "feast"
MLFLOW = "mlflow"
PREDICTIONS = "predictions"
SERVING = "serving"
INFRA = "infra"
SPARK_STAGING = "spark-staging"
DEMO = "demo"
REPORTS = "reports"
ENTRIES = (DATA, FEAST, MLFLOW, PREDICTIONS, SERVING, INFRA, SPARK_STAGING, DEMO, REPORTS)
"""Every top-level entry Keel creates in a workspace; `wipe` refuses anything else."""


@dataclass(frozen=True)
class Workspace:
    """Absolute paths of everything Keel writes, derived from the settings."""

    home: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> Workspace:
        return cls(home=settings.home)

    @property
    def raw_dir(self) -> Path:
        """Raw business tables of the built-in example (its generator's output)."""
        return self.home / DATA / "raw"

    @property
    def features_dir(self) -> Path:
        """Feature tables read by Feast's offline store."""
        return self.home / DATA / "features"

    @property
    def feast_dir(self) -> Path:
        """Feast file registry and SQLite online store."""
        return self.home / FEAST

    @property
    def mlflow_dir(self) -> Path:
        return self.home / MLFLOW

    @property
    def mlflow_db(self) -> Path:
        return self.mlflow_dir / "mlflow.db"

    @property
    def artifacts_dir(self) -> Path:
        return self.mlflow_dir / "artifacts"

    @property
    def predictions_dir(self) -> Path:
        return self.home / PREDICTIONS

    @property
    def prediction_log(self) -> Path:
        return self.predictions_dir / "predictions.db"

    @property
    def model_cache_dir(self) -> Path:
        """The models `keel serve` last loaded, so it can start while MLflow is down."""
        return self.home / SERVING / "model-cache"

    @property
    def infra_dir(self) -> Path:
        """`keel infra`: pid records, logs, the generated API token, MLflow's artifacts."""
        return self.home / INFRA

    @property
    def spark_staging_dir(self) -> Path:
        """The `spark` profile's staging directory unless `KEEL_SPARK_STAGING` names one."""
        return self.home / SPARK_STAGING

    @property
    def demo_dir(self) -> Path:
        """`keel demo`: the log of the server it starts."""
        return self.home / DEMO

    @property
    def reports_dir(self) -> Path:
        """Plots and reports written without an explicit `--out` (`keel models compare`)."""
        return self.home / REPORTS

    def ensure(self) -> Workspace:
        """Create the workspace directories (idempotent)."""
        for directory in (
            self.raw_dir,
            self.features_dir,
            self.feast_dir,
            self.artifacts_dir,
            self.predictions_dir,
        ):
            directory.mkdir(parents=True, exist_ok=True)
        return self

    def foreign_entries(self) -> list[str]:
        """Names in the workspace that Keel did not create (not in `ENTRIES`), sorted."""
        if not self.home.is_dir():
            return []
        return sorted(p.name for p in self.home.iterdir() if p.name not in ENTRIES)

    def wipe(self) -> None:
        """Delete the whole workspace; `WorkspaceNotEmpty` if it holds anything Keel did not
        create, so a mistyped `KEEL_HOME` cannot delete someone's files."""
        if not self.home.exists():
            return
        if not self.home.is_dir():
            raise WorkspaceNotEmpty(
                f"refusing to wipe {self.home}: it is a file, not a workspace; "
                "set KEEL_HOME to a dedicated directory"
            )
        foreign = self.foreign_entries()
        if foreign:
            raise WorkspaceNotEmpty(
                f"refusing to wipe {self.home}: it holds {', '.join(foreign)}, which Keel did "
                "not create; move them out or set KEEL_HOME to a dedicated directory"
            )
        shutil.rmtree(self.home)
