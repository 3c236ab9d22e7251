"""Feast imported without typeguard's instrumentation (`keel.feast_plumbing.feast_import`) by the
server and every command that only reads the registry, with it where definitions are built.
Each case runs in a fresh interpreter: Feast's modules instrument themselves once, at import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import keel.cli.serve as serve_module

SWITCH = "from keel.feast_plumbing.feast_import import skip_typeguard_instrumentation as skip"
REPORT = """
import feast
names = feast.FeatureView.__init__.__code__.co_names
print("instrumented" if "check_argument_types_internal" in names else "plain")
"""


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_feast_imported_after_the_switch_is_not_instrumented_and_without_it_is() -> None:
    assert _run(f"{SWITCH}\nassert skip()\n{REPORT}") == "plain"
    assert _run(REPORT) == "instrumented"


def test_the_switch_is_refused_once_feast_is_imported() -> None:
    code = f"import feast, typeguard\n{SWITCH}\nbefore = typeguard.typechecked\n"
    code += "print(skip(), typeguard.typechecked is before)"
    assert _run(code) == "False True"


@pytest.mark.parametrize(
    ("command", "feast"),
    [
        (["predictions", "--help"], "plain"),
        (["serve", "--help"], "plain"),
        (["features", "materialize", "--help"], "plain"),
        (["features", "apply", "--help"], "instrumented"),  # builds the churn repo's definitions
        (["demo", "--help"], "instrumented"),  # applies the churn repo
    ],
)
def test_commands_that_only_read_the_registry_switch_before_feast_is_imported(
    command: list[str], feast: str
) -> None:
    code = (
        "import sys\nfrom keel.cli.main import app\n"
        f"try:\n    app({command!r})\nexcept SystemExit:\n    pass\n"
        "assert 'feast' not in sys.modules\n"
    )
    assert _run(code + REPORT) == feast


def test_the_cli_and_the_worker_entry_import_no_feast_before_the_switch() -> None:
    code = (
        "import sys, keel.cli.main, serving.server_entry\n"
        "print(sorted(m for m in sys.modules if m == 'feast' or m.startswith('feast.')))"
    )
    assert _run(code) == "[]"


def test_workers_are_started_from_the_entry_that_switches_first() -> None:
    from uvicorn.importer import import_from_string

    factory = import_from_string(serve_module.WORKER_APP)
    assert factory.__module__ == "serving.server_entry" and factory.__name__ == "worker_app"
