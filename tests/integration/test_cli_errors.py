"""The CLI's error paths as a user meets them: the real `keel` in a subprocess, exit code 2, one
`error: ` line on stderr naming what is wrong and what to do, nothing on stdout, no traceback.

Also what the CLI prints on its good paths where it used to get it wrong: the URL `keel serve`
listens on, and the erasure's audit line printed once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from keel.ops.server_process import free_port

if TYPE_CHECKING:
    from keel.cli.demo_journey import DemoResult

pytestmark = pytest.mark.integration

KEEL = str(Path(sys.executable).with_name("keel"))
"""The console script a user runs, installed beside this Python."""
DOWN = "127.0.0.1:1"  # nothing listens on port 1
PRODUCTION_DOWN = {
    "KEEL_PROFILE": "production",
    "KEEL_REDIS_URL": f"redis://{DOWN}/0",
    "KEEL_POSTGRES_URL": f"postgresql://postgres@{DOWN}/keel",
    "KEEL_API_TOKENS": "h3-cli-errors-token-0123456789abcdef=predict",
}


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def keel(*args: str, home: Path, env: dict[str, str] | None = None, cwd: Path) -> Run:
    """`keel ARGS` as a user runs it, in its own process, on workspace `home`."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KEEL_")},
        "KEEL_HOME": str(home),
        "COLUMNS": "400",
        **(env or {}),
    }
    done = subprocess.run(
        [KEEL, *args],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def assert_one_error_line(run: Run, *words: str) -> None:
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    assert run.code == 2, (run.code, run.stderr[-2000:])
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "error:" not in run.stdout.lower(), run.stdout
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory per module: empty workspaces, a file posing as one, input files."""
    root = tmp_path_factory.mktemp("cli-errors")
    (root / "a-file").write_text("not a workspace")
    (root / "foreign" / "holiday-photos").mkdir(parents=True)
    (root / "duplicates.csv").write_text("customer_id\n5\n7\n5\n")
    (root / "customers.csv").write_text("customer_id\n5\n7\n")
    return root


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    """A port another process (here: this one) listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


# (case, workspace under scratch, extra env, arguments, words the one line must contain)
WORKSPACE_ERRORS: list[tuple[str, str, dict[str, str], list[str], list[str]]] = [
    (
        "empty workspace: model",
        "empty",
        {},
        ["models", "show", "churn@champion"],
        ["no MLflow registry", "keel train"],
    ),
    ("empty workspace: data", "empty", {}, ["train"], ["is missing", "keel data generate"]),
    ("workspace is a file", "a-file", {}, ["models", "list"], ["KEEL_HOME", "is a file"]),
    (
        "refusing to wipe",
        "foreign",
        {},
        ["demo", "--fresh"],
        ["refusing to wipe", "holiday-photos", "KEEL_HOME"],
    ),
    (
        "missing input file",
        "empty",
        {},
        ["score", "--input", "{scratch}/nope.csv", "--as-of", "2026-11-30T00:00Z", "--output", "o"],
        ["--input", "nope.csv", "no such file"],
    ),
    (
        "duplicate ids, refused before the feature store is opened",
        "empty",
        {},
        [
            *["score", "--input", "{scratch}/duplicates.csv"],
            *["--as-of", "2026-11-30T00:00Z", "--output", "o"],
        ],
        ["duplicates.csv", "'customer_id'", "duplicate", "rows 1 and 3"],
    ),
    (
        "as-of without a zone, refused before the feature store is opened",
        "empty",
        {},
        ["score", "--input", "{scratch}/customers.csv", "--as-of", "2026-11-30", "--output", "o"],
        ["--as-of", "'2026-11-30'", "time zone"],
    ),
    (
        "serve before features are applied",
        "empty",
        {},
        ["serve", "--port", "{free_port}"],
        ["feature service 'churn_v1'", "keel features apply"],
    ),
    (
        "production registry database down",
        "empty",
        PRODUCTION_DOWN,
        ["models", "list"],
        ["cannot reach MLflow's database", DOWN],
    ),
    (
        "production log database down",
        "empty",
        PRODUCTION_DOWN,
        ["predictions", "stats"],
        ["cannot reach the prediction log database", DOWN],
    ),
    (
        "production Feast registry down for training",
        "empty",
        PRODUCTION_DOWN,
        ["train"],
        ["cannot reach Feast's registry database", DOWN, "KEEL_POSTGRES_URL"],
    ),
    (
        "production Feast registry down for serving",
        "empty",
        PRODUCTION_DOWN,
        ["serve", "--port", "{free_port}"],
        ["cannot reach Feast's registry database", DOWN],
    ),
    (
        "usage error",
        "empty",
        {},
        ["models", "promote", "churn/1"],
        ["Missing option '--reason'", "keel models promote --help"],
    ),
]


@pytest.mark.parametrize(
    ("home", "env", "args", "words"),
    [case[1:] for case in WORKSPACE_ERRORS],
    ids=[case[0] for case in WORKSPACE_ERRORS],
)
def test_an_error_a_user_can_cause_is_one_line_on_stderr_with_exit_2(
    scratch: Path,
    tmp_path: Path,
    home: str,
    env: dict[str, str],
    args: list[str],
    words: list[str],
) -> None:
    workspace = scratch / home
    if home == "empty":  # each its own: commands create the workspace's directories
        workspace = tmp_path / "empty"
        workspace.mkdir()
    filled = [a.format(scratch=scratch, free_port=free_port()) for a in args]
    run = keel(*filled, home=workspace, env=env, cwd=scratch)
    assert_one_error_line(run, *words)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["models", "show", "nope@champion"], ["model nope not found", "registered models: churn"]),
        (["models", "show", "churn/99"], ["churn/99 not found", "latest is churn/"]),
        (["models", "show", "churn@gold"], ["churn@gold not found", "champion"]),
        (["serve", "--port", "{busy_port}"], ["port {busy_port}", "already in use", "--port"]),
    ],
    ids=["unknown model", "unknown version", "unknown alias", "port in use"],
)
def test_errors_on_a_trained_workspace_are_one_line_on_stderr_with_exit_2(
    journey: DemoResult, busy_port: int, tmp_path: Path, args: list[str], words: list[str]
) -> None:
    filled = [a.format(busy_port=busy_port) for a in args]
    run = keel(*filled, home=journey.settings.home, cwd=tmp_path)
    assert_one_error_line(run, *[w.format(busy_port=busy_port) for w in words])


def test_serve_prints_the_url_it_listens_on(journey: DemoResult, tmp_path: Path) -> None:
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KEEL_")},
        "KEEL_HOME": str(journey.settings.home),
    }
    server = subprocess.Popen(
        [KEEL, "serve", "--port", str(port)],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline().strip()
        assert first == f"serving on http://127.0.0.1:{port} (docs /docs)"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # and it does serve there
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail(f"nothing answered on the printed URL within 90 s (exit {server.poll()})")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_forget_prints_its_audit_line_once(scratch: Path, tmp_path: Path) -> None:
    home = tmp_path / "ws"
    run = keel("predictions", "forget", "--customer-id", "42", home=home, cwd=scratch)
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("erased 0 predictions and 0 feedback records (audit ")
    audit_id = run.stdout.split("(audit ")[1].split(")")[0]
    assert (run.stdout + run.stderr).count(audit_id) == 1, run.stdout + run.stderr
