"""Schemathesis against the live server's /openapi.json: no input gets a 5xx, and every
answer conforms to the published schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from keel.demo import DemoResult
from keel.server_process import running_server

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 40


def test_no_generated_input_gets_a_server_error_or_an_off_schema_answer(
    journey: DemoResult,
) -> None:
    with running_server(journey.settings) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {"/v1/predict", "/v1/features", "/v1/feedback"}
        statuses: list[int] = []
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            def exercise(case: schemathesis.Case) -> None:
                response = case.call_and_validate(
                    base_url=url, checks=[not_a_server_error, response_schema_conformance]
                )
                statuses.append(response.status_code)

            exercise()
    # Really exercised: many calls, and both accepted and rejected inputs among them.
    assert len(statuses) >= 10 * len(operations)
    assert any(s == 200 for s in statuses) and any(400 <= s < 500 for s in statuses)
