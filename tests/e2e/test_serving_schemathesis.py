"""Schemathesis against the live server's /openapi.json: no input, and no sequence of calls
following the published links, gets a 5xx or an answer off the published schema."""

from __future__ import annotations

import math
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from keel.cli.demo_journey import DemoResult, sample_customers
from keel.ops.server_process import running_server

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


STATEFUL_SCENARIOS = 15
STATEFUL_STEPS = 5


def steer_outcome(body: dict[str, Any]) -> None:
    """The schema's outcome is any number (regression models take any), the churn model is
    binary (0 or 1, else 422): half the drawn numbers become 0 or 1, a function of the draw."""
    drawn = body.get("outcome")
    number = isinstance(drawn, int | float) and not isinstance(drawn, bool)
    if number and math.isfinite(drawn) and int(drawn) % 2 == 0:
        body["outcome"] = int(drawn > 0)


def test_stateful_links_send_feedback_on_real_predictions(journey: DemoResult) -> None:
    """Schemathesis follows the OpenAPI link predict → feedback: feedback on an id the server
    just issued is accepted, and no sequence of calls gets a 5xx or an off-schema answer.

    Generated customer ids are mostly unknown (404, no id to follow), so predict bodies with an
    even id are steered to a customer of the journey's workspace: the link has an id to carry;
    half the generated outcomes are steered to 0 or 1, what the binary churn model takes. Bodies
    of the by-model route with an even number of columns are steered to the churn model and such
    a customer likewise."""
    known = sample_customers(journey.settings, 20)
    with running_server(journey.settings) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        calls: list[tuple[str, int]] = []

        class Workflow(schema.as_state_machine()):  # type: ignore[misc]
            def before_call(self, case: schemathesis.Case) -> None:
                body = case.body
                if not isinstance(body, dict):
                    return
                if case.path == "/v1/feedback":
                    steer_outcome(body)
                if case.path == "/v1/models/{model}/predict":  # the same, by model name
                    entities = body.get("entities")
                    if isinstance(entities, dict) and len(entities) % 2 == 0:
                        case.path_parameters = {"model": journey.settings.model_name}
                        body["entities"] = {"customer_id": [known[len(entities) % len(known)]]}
                if case.path != "/v1/predict":
                    return
                drawn = body.get("customer_id")
                # a function of the drawn case only: Hypothesis replays must see the same calls
                if isinstance(drawn, int) and not isinstance(drawn, bool) and drawn % 2 == 0:
                    body["customer_id"] = known[drawn // 2 % len(known)]

            def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
                return {"base_url": url}

            def after_call(self, response: Any, case: schemathesis.Case) -> None:
                super().after_call(response, case)
                calls.append((case.path, response.status_code))

            def validate_response(
                self, response: Any, case: schemathesis.Case, *args: Any, **kwargs: Any
            ) -> None:
                case.validate_response(
                    response, checks=[not_a_server_error, response_schema_conformance]
                )

        Workflow.run(
            settings=settings(
                max_examples=STATEFUL_SCENARIOS,
                stateful_step_count=STATEFUL_STEPS,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
        )
    linked_feedback = [status for path, status in calls if path == "/v1/feedback"]
    assert any(path == "/v1/predict" and status == 200 for path, status in calls), calls
    # A random prediction_id is never in the log (404): a 200 means the link carried a real one.
    assert 200 in linked_feedback, calls
    assert all(status < 500 for _, status in calls)
