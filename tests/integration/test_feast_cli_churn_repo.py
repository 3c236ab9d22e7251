"""Keel's churn repo opened by Feast's own CLI: `feast apply`, `feast materialize`, `feast serve`
and `feast ui` in feature_repo/ with the environment `keel features env` prints, on a generated
workspace; and Keel's own store reads what Feast's CLI wrote."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from feature_repo.tables import ACTIVITY_TABLE, PROFILE_TABLE
from keel.core.settings import Settings
from keel.core.workspace import Workspace
from keel.feast_plumbing.feature_store import REPO_DIR, feast_environment, open_store
from keel.ops.server_process import free_port
from synthetic.churn_dataset import generate_dataset

FEAST = Path(sys.executable).parent / "feast"
KEEL = Path(sys.executable).parent / "keel"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("feast-cli") / "keel-home")
    generate_dataset(settings, customers=60, days=40, seed=5)
    return settings


@pytest.fixture(scope="module")
def feast_env(settings: Settings) -> dict[str, str]:
    """The process environment with what `keel features env` prints for `settings` exported."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    base.pop("FEAST_FS_YAML_FILE_PATH", None)
    done = subprocess.run(
        [str(KEEL), "features", "env"],
        env={**base, "KEEL_HOME": str(settings.home)},
        cwd=settings.home.parent,  # no keel.yaml there
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    exported: dict[str, str] = {}
    for line in done.stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            (exported[name],) = shlex.split(value)
    assert exported == feast_environment(settings)
    return {**base, **exported}


def feast(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [str(FEAST), *args],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def applied(feast_env: dict[str, str]) -> str:
    """`feast apply` then `feast materialize` over all the data, by Feast's own CLI."""
    printed = feast(feast_env, "apply")
    feast(feast_env, "materialize", "2000-01-01T00:00:00", "2099-01-01T00:00:00")
    return printed


@contextmanager
def feast_process(env: dict[str, str], command: str, ready_path: str) -> Iterator[str]:
    """`feast <command>` serving on a free port of 127.0.0.1 until `ready_path` answers; its
    base URL. Stopped when the block exits."""
    port = free_port()
    process = subprocess.Popen(
        [str(FEAST), command, "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}{ready_path}", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    _, errors = process.communicate(timeout=10) if process.poll() else ("", "")
                    pytest.fail(f"feast {command} did not start: {errors[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def feast_server(feast_env: dict[str, str], applied: str) -> Iterator[str]:
    """`feast serve` on a free port of 127.0.0.1; its base URL."""
    with feast_process(feast_env, "serve", "/health") as url:
        yield url


def latest(settings: Settings, table: str, customer: int) -> pd.Series:
    frame = pd.read_parquet(Workspace.from_settings(settings).features_dir / table)
    rows = frame[frame["customer_id"] == customer].sort_values("event_timestamp")
    return rows.iloc[-1]


def test_feast_apply_registers_the_churn_repo(applied: str) -> None:
    for line in (
        "Created entity customer",
        "Created feature view customer_profile",
        "Created feature view customer_activity",
        "Created feature view customer_support",
        "Created on demand feature view customer_derived",
        "Created feature service churn_v1",
    ):
        assert line in applied


def test_keel_reads_what_feast_cli_applied_and_materialized(
    settings: Settings, applied: str
) -> None:
    store = open_store(settings)
    assert [s.name for s in store.list_feature_services()] == ["churn_v1"]
    customer = 7
    online = store.get_online_features(
        features=["customer_profile:plan", "customer_activity:logins_30d"],
        entity_rows=[{"customer_id": customer}],
    ).to_dict()
    assert online["plan"] == [latest(settings, PROFILE_TABLE, customer)["plan"]]
    assert online["logins_30d"] == [int(latest(settings, ACTIVITY_TABLE, customer)["logins_30d"])]


def registry_contents(settings: Settings) -> dict[str, str]:
    """The registered objects' specs by name, as protobuf text so that a difference reads as one
    (sources without their `meta` times, which Feast rewrites on every apply; on-demand
    transforms by their source text)."""
    from google.protobuf import text_format

    store = open_store(settings)
    contents: dict[str, str] = {}
    for entity in store.list_entities():
        contents[f"entity {entity.name}"] = text_format.MessageToString(entity.to_proto().spec)
    for view in store.list_feature_views():
        spec = view.to_proto().spec
        spec.batch_source.ClearField("meta")
        contents[f"view {view.name}"] = text_format.MessageToString(spec)
    for odfv in store.list_on_demand_feature_views():
        udf = odfv.feature_transformation.udf_string  # type: ignore[union-attr]
        fields = ",".join(f"{f.name}:{f.dtype}" for f in odfv.features)
        contents[f"on-demand {odfv.name}"] = f"{fields}\n{udf}"
    for service in store.list_feature_services():
        spec = service.to_proto().spec
        for projection in spec.features:
            projection.batch_source.ClearField("meta")
        contents[f"service {service.name}"] = text_format.MessageToString(spec)
    return contents


def test_keel_apply_registers_what_feast_cli_collects(settings: Settings, applied: str) -> None:
    """Keel's own apply (definitions built per workspace) and Feast's CLI (churn.py's
    module-level objects) register the same objects: neither undoes the other."""
    from keel.feast_plumbing.features import apply_definitions

    by_feast = registry_contents(settings)
    assert len(by_feast) == 1 + 3 + 1 + 1
    apply_definitions(settings)
    assert registry_contents(settings) == by_feast


def test_feast_serve_answers_get_online_features(settings: Settings, feast_server: str) -> None:
    customer = 11
    body = {
        "feature_service": "churn_v1",
        # Feast's server takes request fields beside the join keys.
        "entities": {"customer_id": [customer], "as_of_unix": [2_000_000_000]},
    }
    request = urllib.request.Request(
        f"{feast_server}/get-online-features",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.load(response)
    values = dict(
        zip(
            answer["metadata"]["feature_names"],
            (result["values"][0] for result in answer["results"]),
            strict=True,
        )
    )
    profile = latest(settings, PROFILE_TABLE, customer)
    assert values["customer_id"] == customer
    assert values["plan"] == profile["plan"]
    assert values["monthly_price"] == pytest.approx(profile["monthly_price"])
    expected_tenure = (2_000_000_000 - profile["signup_unix"]) / 86_400
    assert values["tenure_days"] == pytest.approx(expected_tenure)


def test_feast_ui_starts_on_the_churn_repo_and_answers_its_page(
    feast_env: dict[str, str], applied: str
) -> None:
    """`feast ui` needs `feast[grpcio]` (Keel installs it): its page, and the registry API the
    page reads lists the churn service."""
    with feast_process(feast_env, "ui", "/") as url:
        with urllib.request.urlopen(f"{url}/", timeout=30) as response:
            page = response.read().decode()
        assert response.status == 200 and "<html" in page.lower()
        project = feast_env["KEEL_PROJECT"]
        listing = f"{url}/api/v1/feature_services?project={project}"
        with urllib.request.urlopen(listing, timeout=30) as response:
            services = json.load(response)["featureServices"]
        assert [s["spec"]["name"] for s in services] == ["churn_v1"]
