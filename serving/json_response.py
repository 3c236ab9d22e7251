"""The prediction routes' response: Starlette's `JSONResponse`, rendered by orjson where that
gives the same JSON value (`serving.fast_json`)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from serving.fast_json import fast_dumps


class FastJSONResponse(JSONResponse):
    """Same bytes as `JSONResponse` up to the spelling of exponents (`1e-07` is `1e-7`); a
    body holding `null` (which may stand for a NaN) is rendered by Starlette, which refuses NaN
    as before."""

    def render(self, content: Any) -> bytes:
        out = fast_dumps(content)
        return super().render(content) if out is None else out
