"""The model spec: what a registered version takes and gives, stored with the version.

Training writes it as the artifact `model_spec.json` of the run that holds the model, and its
sha256 as the version tag `keel.model_spec_sha256` (with `keel.task`), so serving can know each
version's join keys, request fields, features, task and output without the project file, and can
tell two versions with the same interface apart from two without.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from keel.feast_plumbing.project_checks import ModelSummary, ServiceSchema

SPEC_ARTIFACT = "model_spec.json"
SPEC_HASH_TAG = "keel.model_spec_sha256"
TASK_TAG = "keel.task"
SPEC_FORMAT = 1
OUTPUTS = {"binary": ["probability", "label"], "regression": ["prediction"]}


def model_spec(summary: ModelSummary) -> dict[str, Any]:
    """The spec of a model that passed `keel.feast_plumbing.project_checks`, as plain JSON-able
    data."""
    model = summary.model
    return service_model_spec(model.name, summary.service, task=model.task, label=model.label)


def service_model_spec(
    name: str, service: ServiceSchema, *, task: str, label: str
) -> dict[str, Any]:
    """The spec of model `name` predicting `label` (`task`) from `service`'s usable features:
    the same content whether the model comes from keel.yaml or is the built-in example."""
    if task not in OUTPUTS:
        raise ValueError(f"task must be one of {', '.join(OUTPUTS)}, got {task!r}")
    return {
        "format": SPEC_FORMAT,
        "name": name,
        "task": task,
        "feature_service": service.name,
        "join_keys": [{"name": k.name, "dtype": k.dtype} for k in service.join_keys],
        "request_fields": [{"name": f.name, "dtype": f.dtype} for f in service.request_fields],
        "features": [
            {"view": f.view, "name": f.name, "dtype": f.dtype, "kind": f.kind}
            for f in service.usable
        ],
        "label": label,
        "output": OUTPUTS[task],
    }


def encode_spec(spec: dict[str, Any]) -> bytes:
    """Canonical JSON (sorted keys, no spaces): the bytes stored and hashed."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()


def spec_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def load_model_spec(client: MlflowClient, name: str, version: str) -> dict[str, Any]:
    """The spec stored with `name` version `version`, checked against its hash tag."""
    from keel.core.errors import ModelNotFound

    held = client.get_model_version(name, version)
    expected = (held.tags or {}).get(SPEC_HASH_TAG)
    if expected is None:
        raise ModelNotFound(f"model {name} version {version} has no {SPEC_HASH_TAG} tag")
    path = client.download_artifacts(str(held.run_id), SPEC_ARTIFACT)
    with open(path, "rb") as handle:
        content = handle.read()
    if spec_sha256(content) != expected:
        raise ModelNotFound(
            f"model {name} version {version}: {SPEC_ARTIFACT} does not match its "
            f"{SPEC_HASH_TAG} tag (the artifact was changed after registration)"
        )
    spec: dict[str, Any] = json.loads(content)
    return spec
