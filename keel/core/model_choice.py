"""Which model a monitoring or data-lab command is about: `--model` as typed (a bare name means
its champion), else the only model of keel.yaml, else the built-in example's champion."""

from __future__ import annotations

from keel.core.errors import InvalidInput
from keel.core.project import discover_project
from keel.core.settings import Settings

DEFAULT_ALIAS = "champion"


def chosen_model_ref(given: str | None, settings: Settings) -> str:
    """`given` (`name`, `name/3`, `name@alias`; a bare name as `name@champion`), or the default:
    keel.yaml's only model (several: name one) or, without keel.yaml, the example's model."""
    from registry.refs import parse_ref

    if given is not None:
        try:
            ref = parse_ref(given)
        except ValueError as error:
            raise InvalidInput(f"--model: {error}") from None
        if ref.version is None and ref.alias is None:
            return f"{ref.name}@{DEFAULT_ALIAS}"
        return str(ref)
    project = discover_project()
    if project is None:
        return f"{settings.model_name}@{DEFAULT_ALIAS}"
    names = [model.name for model in project.models]
    if len(names) == 1:
        return f"{names[0]}@{DEFAULT_ALIAS}"
    raise InvalidInput(
        f"{project.path} has models {', '.join(names)}: name one with --model NAME@alias"
    )


def model_name(ref: str) -> str:
    """The registered model's name in a reference (`delivery_minutes@champion` -> its name)."""
    from registry.refs import parse_ref

    return parse_ref(ref).name
