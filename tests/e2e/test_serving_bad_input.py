"""Bad input against a live `keel serve`: each is a 4xx JSON answer naming the problem, and the
server keeps answering afterwards (no 500, no RecursionError, no dropped connection)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from keel.cli.demo_journey import DemoResult, sample_customers
from keel.ops.server_process import running_server

pytestmark = pytest.mark.e2e

MAX_BODY = 64 * 1024  # room for the 10,000-level JSON (20 kB), which must fail on depth
MAX_BATCH = 50
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client(journey: DemoResult) -> Iterator[httpx.Client]:
    settings = journey.settings.model_copy(
        update={"max_body_bytes": MAX_BODY, "max_batch": MAX_BATCH}
    )
    with running_server(settings) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


def _chunks(total: int) -> Iterator[bytes]:
    """A JSON body streamed without Content-Length (chunked transfer encoding)."""
    yield b'{"customers": ['
    for _ in range(total // 2):
        yield b"1,"
    yield b"1]}"


# (name, path, raw body, headers, status, words the JSON answer must contain)
CASES = [
    (
        "declared Content-Length over the limit",
        "/v1/predict",
        b'{"customers": [' + b"1," * MAX_BODY + b"1]}",
        JSON,
        413,
        ["KEEL_MAX_BODY_BYTES", str(MAX_BODY)],
    ),
    (
        "deeply nested JSON",
        "/v1/predict",
        b"[" * 10_000 + b"]" * 10_000,
        JSON,
        422,
        ["body", "nested deeper"],
    ),
    (
        "deeply nested JSON on a model's route",
        "/v1/models/churn/predict",
        b"[" * 10_000 + b"]" * 10_000,
        JSON,
        422,
        ["body", "nested deeper"],
    ),
    (
        "deep JSON inside a field",
        "/v1/features",
        b'{"entities": {"customer_id": ' + b"[" * 5_000 + b"]" * 5_000 + b"}}",
        JSON,
        422,
        ["body", "nested deeper"],
    ),
    (
        "batch over KEEL_MAX_BATCH",
        "/v1/predict",
        b'{"customers": [' + b"1," * MAX_BATCH + b"1]}",
        JSON,
        413,
        ["customers", "KEEL_MAX_BATCH", str(MAX_BATCH)],
    ),
    ("NaN", "/v1/predict", b'{"customer_id": NaN}', JSON, 422, ["customer_id", "NaN"]),
    (
        "Infinity",
        "/v1/predict",
        b'{"customer_id": 1, "as_of_unix": Infinity}',
        JSON,
        422,
        ["as_of_unix", "Infinity"],
    ),
    (
        "-Infinity in a list",
        "/v1/predict",
        b'{"customers": [1, -Infinity]}',
        JSON,
        422,
        ["customers.1", "Infinity"],
    ),
    (
        "NaN in a feature request",
        "/v1/features",
        b'{"entities": {"customer_id": [1], "as_of_unix": [NaN]}, "feature_service": "x"}',
        JSON,
        422,
        ["entities.as_of_unix.0", "NaN"],
    ),
    (
        "NaN as an outcome",
        "/v1/feedback",
        b'{"prediction_id": "x", "outcome": NaN, "observed_at": "2026-01-01T00:00Z"}',
        JSON,
        422,
        ["outcome", "NaN"],
    ),
    ("boolean id", "/v1/predict", b'{"customer_id": true}', JSON, 422, ["customer_id", "integer"]),
    ("text id", "/v1/predict", b'{"customer_id": "7"}', JSON, 422, ["customer_id", "integer"]),
    ("list as a string", "/v1/predict", b'{"customers": "1,2"}', JSON, 422, ["customers", "list"]),
    (
        "float timestamp",
        "/v1/predict",
        b'{"customer_id": 1, "as_of_unix": 1.5}',
        JSON,
        422,
        ["as_of_unix", "integer"],
    ),
    (
        "explain as text",
        "/v1/predict",
        b'{"customer_id": 1, "explain": "yes"}',
        JSON,
        422,
        ["explain", "boolean"],
    ),
    (
        "naive observed_at",
        "/v1/feedback",
        b'{"prediction_id": "x", "outcome": 1, "observed_at": "2026-01-01T00:00"}',
        JSON,
        422,
        ["observed_at", "timezone"],
    ),
    ("empty body", "/v1/predict", b"", JSON, 422, ["body", "required"]),
    ("malformed JSON", "/v1/predict", b'{"customer_id": 1', JSON, 422, ["body", "invalid JSON"]),
    (
        "text/plain content type",
        "/v1/predict",
        b'{"customer_id": 1}',
        {"content-type": "text/plain"},
        415,
        ["Content-Type", "application/json", "text/plain"],
    ),
    (
        "text/plain content type on a model's route",
        "/v1/models/churn/predict",
        b'{"entities": {"customer_id": [1]}}',
        {"content-type": "text/plain"},
        415,
        ["Content-Type", "application/json", "text/plain"],
    ),
    (
        "form content type",
        "/v1/feedback",
        b"prediction_id=x&outcome=1",
        {"content-type": "application/x-www-form-urlencoded"},
        415,
        ["Content-Type", "application/json"],
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_is_a_4xx_json_naming_the_problem(
    client: httpx.Client,
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    words: list[str],
) -> None:
    answer = client.post(path, content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    payload = answer.json()
    assert payload["error"], payload
    for word in words:
        assert word.lower() in payload["detail"].lower(), (word, payload)


def test_a_chunked_body_over_the_limit_is_refused_without_a_content_length(
    client: httpx.Client,
) -> None:
    answer = client.post("/v1/predict", content=_chunks(MAX_BODY), headers=JSON)
    assert "content-length" not in answer.request.headers
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert answer.status_code == 413, answer.text
    assert "KEEL_MAX_BODY_BYTES" in answer.json()["detail"]


def test_the_server_still_answers_well_formed_requests_after_bad_ones(
    client: httpx.Client, journey: DemoResult
) -> None:
    client.post("/v1/predict", content=b"[" * 10_000, headers=JSON)
    client.post("/v1/predict", content=_chunks(MAX_BODY * 4), headers=JSON)
    (customer,) = sample_customers(journey.settings, 1)
    small_chunked = client.post(
        "/v1/predict",
        content=iter([b'{"customer_id": ', str(customer).encode(), b"}"]),
        headers=JSON,
    )
    assert small_chunked.status_code == 200, small_chunked.text
    assert 0.0 <= small_chunked.json()["churn_probability"] <= 1.0
