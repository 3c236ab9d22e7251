"""The workspace: one directory (`KEEL_HOME`, default `./.keel`) that holds all generated state."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from keel.settings import Settings


@dataclass(frozen=True)
class Workspace:
    """Absolute paths of everything Keel writes, derived from the settings."""

    home: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> Workspace:
        return cls(home=settings.home)

    @property
    def raw_dir(self) -> Path:
        """Raw business tables (customers, activity, tickets, churn events)."""
        return self.home / "data" / "raw"

    @property
    def features_dir(self) -> Path:
        """Feature tables read by Feast's offline store."""
        return self.home / "data" / "features"

    @property
    def feast_dir(self) -> Path:
        """Feast file registry and SQLite online store."""
        return self.home / "feast"

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def mlflow_db(self) -> Path:
        return self.mlflow_dir / "mlflow.db"

    @property
    def artifacts_dir(self) -> Path:
        return self.mlflow_dir / "artifacts"

    @property
    def predictions_dir(self) -> Path:
        return self.home / "predictions"

    @property
    def prediction_log(self) -> Path:
        return self.predictions_dir / "predictions.db"

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

    def wipe(self) -> None:
        """Delete the whole workspace; refuses anything that does not look like one."""
        if not self.home.exists():
            return
        unexpected = {p.name for p in self.home.iterdir()} - {
            "data",
            "feast",
            "mlflow",
            "predictions",
            "demo",
        }
        if unexpected:
            raise RuntimeError(
                f"refusing to wipe {self.home}: it holds {sorted(unexpected)}, "
                "which Keel did not create; set KEEL_HOME to a dedicated directory"
            )
        shutil.rmtree(self.home)
