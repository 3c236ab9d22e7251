"""`keel models …`: registered versions, audited alias moves, comparison and lineage.

Every command accepts `--json` (plain JSON on stdout, for scripts) and turns user errors
(unknown model, version or alias; a refused or conflicting move; an unreachable database) into
one red line and exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from keel.cli.common import console, user_errors
from keel.core.settings import get_settings

models_app = typer.Typer(
    help="Registered models: versions, aliases with history, compare, lineage.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AliasOption = Annotated[str, typer.Option("--alias", help="The alias to move.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why: recorded in the history.")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Who (default KEEL_ACTOR, else the OS user).")
]


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _move_dict(move: Any) -> dict[str, Any]:
    return {**move.__dict__, "moved_at": move.moved_at.isoformat()}


@models_app.command("list")
def models_list(as_json: JsonFlag = False) -> None:
    """Every registered model and version with aliases, test metrics, gate and source run."""
    from keel.cli.models_render import versions_table
    from registry.catalog import list_models

    with user_errors():
        models = list_models(get_settings())
    if as_json:
        _echo_json([m.as_dict() for m in models])
    elif not models:
        console.print("no registered models yet: run `keel train`")
    else:
        console.print(versions_table(models))


@models_app.command("show")
def models_show(
    ref: Annotated[str, typer.Argument(help="churn, churn/7 or churn@champion.")],
    as_json: JsonFlag = False,
) -> None:
    """A model's aliases and versions, or one version in detail (`name/N`, `name@alias`)."""
    from keel.cli.models_render import version_table, versions_table
    from registry.catalog import show_model, show_version
    from registry.refs import parse_ref

    with user_errors():
        parsed = parse_ref(ref)
        settings = get_settings()
        if parsed.version is None and parsed.alias is None:
            model = show_model(settings, parsed.name)
            if as_json:
                _echo_json(model.as_dict())
                return
            aliases = ", ".join(f"{a} -> {v}" for a, v in sorted(model.aliases.items()))
            console.print(f"[bold]{model.name}[/]: aliases {aliases or 'none'}")
            console.print(versions_table([model], title=f"Versions of {model.name}"))
            return
        version = show_version(settings, parsed)
    if as_json:
        _echo_json(version.as_dict())
    else:
        console.print(version_table(version))


@models_app.command("promote")
def models_promote(
    ref: Annotated[str, typer.Argument(help="The version to promote: churn/7.")],
    reason: ReasonOption,
    alias: AliasOption = "champion",
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if it failed its gate (recorded).")
    ] = False,
    actor: ActorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Point an alias at a version; refuses a gate-failed version unless --force; an alias
    already at the version is left alone (exit 0, nothing recorded)."""
    from keel.core.errors import AliasUnchanged
    from registry.aliases import move_alias
    from registry.refs import parse_ref

    with user_errors():
        parsed = parse_ref(ref)
        if parsed.version is None:
            raise ValueError(f"promote needs a version (name/N), got {ref!r}")
        try:
            move = move_alias(
                get_settings(),
                name=parsed.name,
                alias=alias,
                version=parsed.version,
                reason=reason,
                actor=actor,
                force=force,
            )
        except AliasUnchanged as unchanged:
            if as_json:
                _echo_json({"moved": False, "message": unchanged.message})
            else:
                console.print(unchanged.message, highlight=False)
            return
    if as_json:
        _echo_json(_move_dict(move))
        return
    forced = " [red](forced past a failed gate)[/]" if move.forced else ""
    console.print(
        f"{move.model_name}@{move.alias}: {move.from_version or '-'} -> {move.to_version}{forced}"
    )


@models_app.command("rollback")
def models_rollback(
    name: Annotated[str, typer.Argument(help="The model: churn.")],
    reason: ReasonOption,
    alias: AliasOption = "champion",
    actor: ActorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Move an alias back to the version it pointed to before its last move."""
    from registry.aliases import rollback_alias

    with user_errors():
        move = rollback_alias(get_settings(), name=name, alias=alias, reason=reason, actor=actor)
    if as_json:
        _echo_json(_move_dict(move))
        return
    console.print(
        f"{move.model_name}@{move.alias}: rolled back {move.from_version} -> {move.to_version}"
    )


@models_app.command("history")
def models_history(
    name: Annotated[str, typer.Argument(help="The model: churn.")],
    alias: Annotated[str | None, typer.Option("--alias", help="Only this alias.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every alias move: time, actor, from-version, to-version, reason."""
    from keel.cli.models_render import history_table
    from registry.aliases import alias_history

    with user_errors():
        moves = alias_history(get_settings(), name=name, alias=alias)
    if as_json:
        _echo_json([_move_dict(m) for m in moves])
        return
    subject = f"{name}@{alias}" if alias else name
    if not moves:
        console.print(f"no recorded alias moves for {subject}")
        return
    console.print(history_table(moves, title=f"Alias history of {subject}"))


@models_app.command("compare")
def models_compare(
    first: Annotated[str, typer.Argument(help="A version: churn/6 or churn@champion.")],
    second: Annotated[str, typer.Argument(help="Another version: churn/7.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="PR-curve PNG (default $KEEL_HOME/reports/pr_<a>_vs_<b>.png)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Score two versions on the same held-out snapshot; metrics side by side + PR curves."""
    from keel.cli.models_render import comparison_table
    from registry.compare import compare_versions
    from registry.refs import parse_ref

    with user_errors():
        a, b = parse_ref(first), parse_ref(second)
        if as_json:
            comparison = compare_versions(get_settings(), a, b, out=out)
        else:
            with console.status("scoring both versions on the held-out snapshot"):
                comparison = compare_versions(get_settings(), a, b, out=out)
    if as_json:
        _echo_json(comparison.as_dict())
        return
    console.print(comparison_table(comparison))
    console.print(f"PR curves: {comparison.plot}")


@models_app.command("lineage")
def models_lineage(
    ref: Annotated[str, typer.Argument(help="A version: churn/7 or churn@champion.")],
    as_json: JsonFlag = False,
) -> None:
    """Run, dataset digest and location, feature service and definitions hash, code, gate."""
    from keel.cli.models_render import lineage_table
    from registry.lineage import version_lineage
    from registry.refs import parse_ref

    with user_errors():
        lineage = version_lineage(get_settings(), parse_ref(ref))
    if as_json:
        _echo_json(lineage.as_dict())
    else:
        console.print(lineage_table(lineage))
