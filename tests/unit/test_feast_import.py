"""The server's processes import Feast without typeguard's instrumentation (`serving.feast_import`),
each in a fresh interpreter: Feast's modules instrument themselves once, at import."""

from __future__ import annotations

import subprocess
import sys

import keel.cli.serve as serve_module

INSTRUMENTED = """
import sys
{before}
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
    skip = "from serving.feast_import import skip_typeguard_instrumentation as s; assert s()"
    assert _run(INSTRUMENTED.format(before=skip)) == "plain"
    assert _run(INSTRUMENTED.format(before="")) == "instrumented"


def test_the_switch_is_refused_once_feast_is_imported() -> None:
    code = (
        "import feast\n"
        "from serving.feast_import import skip_typeguard_instrumentation as s\n"
        "import typeguard\n"
        "before = typeguard.typechecked\n"
        "print(s(), typeguard.typechecked is before)"
    )
    assert _run(code) == "False True"


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
