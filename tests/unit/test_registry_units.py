"""Pure parts of the registry: references, the rollback rule, alias names, backends, `keel ui`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keel.core.errors import AliasConflict, BackendUnavailable, InvalidInput, PromotionRefused
from keel.core.settings import Settings
from registry.aliases import AliasMove, check_alias, resolve_actor, rollback_target
from registry.database import is_database_uri, registry_database_url
from registry.refs import ModelRef, parse_ref
from registry.ui import ui_server


def move(number: int, source: int | None, target: int, action: str = "promote") -> AliasMove:
    return AliasMove(
        id=number,
        model_name="churn",
        alias="champion",
        from_version=source,
        to_version=target,
        actor="a",
        reason="r",
        forced=False,
        moved_at=datetime(2026, 1, 1, tzinfo=UTC),
        action=action,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("churn", ModelRef("churn")),
        ("churn/7", ModelRef("churn", version=7)),
        ("churn@champion", ModelRef("churn", alias="champion")),
        (" churn/7 ", ModelRef("churn", version=7)),
    ],
)
def test_references_parse_as_users_type_them(text: str, expected: ModelRef) -> None:
    assert parse_ref(text) == expected
    assert str(parse_ref(text)) == text.strip()


@pytest.mark.parametrize("text", ["churn/x", "churn/0", "churn@", "/3", ""])
def test_malformed_references_say_what_was_given(text: str) -> None:
    with pytest.raises(ValueError, match="got"):
        parse_ref(text)


def test_rollback_goes_to_the_version_before_the_last_promotion() -> None:
    history = [move(1, None, 1), move(2, 1, 2), move(3, 2, 3)]
    assert rollback_target(history, current=3) == 2


def test_rollbacks_walk_back_instead_of_flipping_between_two_versions() -> None:
    history = [move(1, None, 1), move(2, 1, 2), move(3, 2, 3), move(4, 3, 2, "rollback")]
    assert rollback_target(history, current=2) == 1


def test_a_promotion_after_a_rollback_is_undone_first() -> None:
    history = [move(1, None, 1), move(2, 1, 2), move(3, 2, 1, "rollback"), move(4, 1, 4)]
    assert rollback_target(history, current=4) == 1


def test_rollback_past_the_first_move_is_refused() -> None:
    with pytest.raises(PromotionRefused, match="no earlier version"):
        rollback_target([move(1, None, 1)], current=1)
    with pytest.raises(PromotionRefused, match="nothing to roll back"):
        rollback_target([], current=None)


def test_rollback_refuses_when_the_alias_was_moved_outside_keel() -> None:
    with pytest.raises(AliasConflict, match="moved outside Keel"):
        rollback_target([move(1, None, 1), move(2, 1, 2)], current=5)


@pytest.mark.parametrize("alias", ["latest", "v3", "bad alias!", ""])
def test_reserved_or_malformed_aliases_are_refused(alias: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        check_alias(alias)


def test_actor_comes_from_the_argument_then_keel_actor_then_the_os_user(
    make_settings: Callable[..., Settings],
) -> None:
    assert resolve_actor(make_settings(actor="ci-bot"), "alice") == "alice"
    assert resolve_actor(make_settings(actor="ci-bot")) == "ci-bot"
    assert resolve_actor(make_settings())


def test_database_uris_are_told_apart_from_tracking_servers() -> None:
    assert is_database_uri("sqlite:////tmp/mlflow.db")
    assert is_database_uri("postgresql+psycopg://u@h/db")
    assert not is_database_uri("http://mlflow:5000")


def test_an_http_tracking_server_cannot_record_alias_history(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(mlflow_tracking_uri="http://u:pw@mlflow.internal:5000")
    with pytest.raises(BackendUnavailable, match="direct access") as raised:
        registry_database_url(settings)
    assert "pw" not in str(raised.value)


def test_ui_serves_the_workspace_backend_with_the_venv_on_path(
    make_settings: Callable[..., Settings],
) -> None:
    import sys

    settings = make_settings()
    server = ui_server(settings, port=5123)
    bin_dir = str(Path(sys.executable).parent)
    assert server.command[:2] == [f"{bin_dir}/mlflow", "server"]
    assert server.env["PATH"].startswith(bin_dir)
    assert server.env["MLFLOW_BACKEND_STORE_URI"].endswith(str(settings.home / "mlflow/mlflow.db"))
    assert (settings.home / "mlflow" / "artifacts").as_uri() in server.command
    assert server.url == "http://127.0.0.1:5123"
    with pytest.raises(InvalidInput, match="port"):
        ui_server(settings, port=0)
