"""Bearer tokens: compared in constant time, never echoed or logged; every route of the app
answered by a live `keel serve` under each credential (none, wrong, and each scope)."""

from __future__ import annotations

import hmac
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keel.cli.demo_journey import DemoResult
from keel.core.errors import InsecureConfiguration, Unauthorized
from keel.core.settings import Settings
from keel.ops.server_process import server_process
from serving.app import create_app
from serving.auth import TokenAuth, parse_tokens

pytestmark = pytest.mark.integration

TOKENS = {
    "predict": "predict-token-0123456789abcdef",
    "feedback": "feedback-token-0123456789abcdef",
    "admin": "admin-token-0123456789abcdef",
}
API_TOKENS = ",".join(f"{token}={scope}" for scope, token in TOKENS.items())
WRONG = "wrong-token-echo-me-0123456789abcdef"
CREDENTIALS: dict[str, str | None] = {"none": None, "wrong": WRONG, **TOKENS}

ROUTE_SCOPES: dict[tuple[str, str], str | None] = {
    ("POST", "/v1/predict"): "predict",
    ("GET", "/v1/models"): "predict",
    ("POST", "/v1/models/{model}/predict"): "predict",
    ("POST", "/v1/features"): "predict",
    ("POST", "/v1/feedback"): "feedback",
    ("POST", "/admin/reload"): "admin",
    ("GET", "/healthz"): None,
    ("GET", "/readyz"): None,
    ("GET", "/metrics"): None,
    ("GET", "/openapi.json"): None,
    ("GET", "/docs"): None,
    ("GET", "/docs/oauth2-redirect"): None,
    ("GET", "/redoc"): None,
}
"""Every route of the app and the scope it needs (None: public). A route added to the app
without an entry here fails `test_every_route_answers_each_credential_as_its_scope_says`."""


def test_token_lookup_compares_every_configured_token(
    make_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = TokenAuth(make_settings(api_tokens=API_TOKENS))
    compared: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(a)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    for scope, token in TOKENS.items():  # first, middle and last match: all three compared
        compared.clear()
        assert auth.scopes_of(f"Bearer {token}") == {scope}
        assert sorted(compared) == sorted(t.encode() for t in TOKENS.values())
    compared.clear()
    with pytest.raises(Unauthorized) as refused:
        auth.scopes_of(f"Bearer {WRONG}")
    assert len(compared) == len(TOKENS)
    assert WRONG not in str(refused.value)


def test_configuration_errors_name_the_entry_never_the_token() -> None:
    for text in ("supersecret-0123456789=bogus", "supersecret=predict"):
        with pytest.raises(InsecureConfiguration) as refused:
            parse_tokens(f"{TOKENS['admin']}=admin,{text}")
        assert "entry 2" in str(refused.value)
        assert "supe" not in str(refused.value) and TOKENS["admin"] not in str(refused.value)


def leaf_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Routes with a path, descending into included routers (FastAPI nests them)."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from leaf_routes(nested.routes)
        else:
            yield route


def app_routes(settings: Settings) -> set[tuple[str, str]]:
    app = create_app(settings)  # routes only: the lifespan (model loading) does not run
    return {
        (method, str(route.path))
        for route in leaf_routes(app.routes)
        for method in set(getattr(route, "methods", None) or ()) - {"HEAD"}
    }


@pytest.fixture(scope="module")
def live(
    journey: DemoResult, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, str, Path]]:
    """`keel serve` with three single-scope tokens on a copy of the journey's workspace."""
    home = tmp_path_factory.mktemp("auth") / "keel-home"
    shutil.copytree(journey.settings.home, home, ignore=shutil.ignore_patterns("predictions"))
    settings = Settings(**{**journey.settings.model_dump(), "home": home, "api_tokens": API_TOKENS})
    log_file = home.parent / "server.log"
    with server_process(settings, log_file=log_file, ready_path="/readyz", timeout=240) as (url, _):
        yield settings, url, log_file


def bodies(journey: DemoResult, http: httpx.Client) -> dict[str, Any]:
    customer = next(r["customer_id"] for r in journey.responses if r["status"] == 200)
    answer = http.post(
        "/v1/predict",
        json={"customer_id": customer},
        headers={"authorization": f"Bearer {TOKENS['predict']}"},
    )
    assert answer.status_code == 200, answer.text
    return {
        "/v1/predict": {"customer_id": customer},
        "/v1/models/{model}/predict": {"entities": {"customer_id": [customer]}},
        "/v1/features": {
            "feature_service": "churn_v1",
            "entities": {"customer_id": [customer], "as_of_unix": [1_790_000_000]},
        },
        "/v1/feedback": {
            "prediction_id": answer.json()["prediction_id"],
            "outcome": 1,
            "observed_at": "2026-11-30T00:00:00Z",
        },
    }


def test_every_route_answers_each_credential_as_its_scope_says(
    live: tuple[Settings, str, Path], journey: DemoResult, in_process_metrics: None
) -> None:
    settings, url, log_file = live
    assert app_routes(settings) == set(ROUTE_SCOPES), "declare the scope of every route"
    outcomes: dict[tuple[str, str, str], int] = {}
    with httpx.Client(base_url=url, timeout=30) as http:
        payloads = bodies(journey, http)
        for (method, path), scope in ROUTE_SCOPES.items():
            for name, token in CREDENTIALS.items():
                headers = {"authorization": f"Bearer {token}"} if token else {}
                concrete = path.replace("{model}", settings.model_name)
                answer = http.request(method, concrete, json=payloads.get(path), headers=headers)
                outcomes[(method, path, name)] = answer.status_code
                assert WRONG not in answer.text
                if scope is None or name == scope:
                    assert answer.status_code == 200, (method, path, name, answer.text)
                elif name in {"none", "wrong"}:
                    assert answer.status_code == 401, (method, path, name, answer.text)
                    assert answer.json()["error"] == "Unauthorized"
                else:
                    assert answer.status_code == 403, (method, path, name, answer.text)
                    assert f"`{scope}` scope" in answer.json()["detail"]
    assert len(outcomes) == len(ROUTE_SCOPES) * len(CREDENTIALS)
    log = log_file.read_text(errors="replace")
    for secret in (WRONG, *TOKENS.values()):
        assert secret not in log
