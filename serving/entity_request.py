"""A model's request entities, columnar as in Feast's request, checked and turned into rows.

Every join key and request field of the model must be a column (a request field named
`as_of_unix` may be left out: the scoring time), no other column, all of one length, each value
of the field's Feast type. Each problem is an `InvalidInput` (422) naming `entities.<field>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keel.core.errors import InvalidInput, PayloadTooLarge
from serving.model_service import Interface
from serving.online_features import REQUEST_FIELD

_KINDS: dict[str, tuple[str, tuple[type, ...]]] = {
    "Int32": ("an integer", (int,)),
    "Int64": ("an integer", (int,)),
    "Float32": ("a number", (int, float)),
    "Float64": ("a number", (int, float)),
    "String": ("a string", (str,)),
    "Bool": ("true or false", (bool,)),
}


def _check_value(name: str, index: int, value: Any, dtype: str) -> None:
    if value is None:
        raise InvalidInput(f"entities.{name}[{index}]: null; every entity needs a value")
    expected = _KINDS.get(dtype)
    if expected is None:
        return
    what, kinds = expected
    wrong_bool = isinstance(value, bool) and bool not in kinds
    if wrong_bool or not isinstance(value, kinds):
        raise InvalidInput(f"entities.{name}[{index}]: expected {what} ({dtype}), got {value!r}")


def entity_rows(
    model: str,
    interface: Interface,
    columns: Mapping[str, Sequence[Any]],
    *,
    max_rows: int,
) -> list[dict[str, Any]]:
    """The request's entities as one mapping per row, checked against `interface`."""
    fields = {**interface.join_keys, **interface.request_fields}
    needs = (
        f"model {model} takes join keys {', '.join(interface.join_keys) or '(none)'}"
        + (
            f" and request fields {', '.join(interface.request_fields)}"
            if interface.request_fields
            else ""
        )
        + ", one column each"
    )
    missing = [name for name in fields if name not in columns and name != REQUEST_FIELD]
    if missing:
        named = ", ".join(f"entities.{name}" for name in missing)
        raise InvalidInput(f"{named} {'is' if len(missing) == 1 else 'are'} missing: {needs}")
    unknown = [name for name in columns if name not in fields]
    if unknown:
        named = ", ".join(f"entities.{name}" for name in unknown)
        raise InvalidInput(f"{named}: not a join key or request field; {needs}")
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        counts = ", ".join(f"{name} {count}" for name, count in lengths.items())
        raise InvalidInput(f"entities: every column needs the same number of values, got {counts}")
    rows = next(iter(lengths.values()), 0)
    if rows == 0:
        raise InvalidInput(f"entities: no entity to score; {needs}")
    if rows > max_rows:
        raise PayloadTooLarge(
            f"entities: {rows} entities, at most {max_rows} per request (KEEL_MAX_BATCH)"
        )
    for name, values in columns.items():
        for index, value in enumerate(values):
            _check_value(name, index, value, fields[name])
    names = list(columns)
    return [{name: columns[name][i] for name in names} for i in range(rows)]
