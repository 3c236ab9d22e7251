"""Bearer tokens with scopes (`predict`, `feedback`, `admin`), from `KEEL_API_TOKENS`."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Literal, get_args

from fastapi import Request

from keel.core.errors import Forbidden, InsecureConfiguration, Unauthorized
from keel.core.settings import Settings

Scope = Literal["predict", "feedback", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)


def parse_tokens(text: str) -> list[tuple[str, frozenset[str]]]:
    """`token=predict+feedback,other=admin` -> [(token, scopes)]; a bad entry is named by its
    position, never by any part of its token."""
    tokens: list[tuple[str, frozenset[str]]] = []
    for position, entry in enumerate(filter(None, (part.strip() for part in text.split(",")))):
        token, sep, scopes = entry.partition("=")
        names = frozenset(filter(None, scopes.split("+")))
        unknown = names - set(SCOPES)
        if not sep or not token or not names or unknown:
            raise InsecureConfiguration(
                f"KEEL_API_TOKENS entry {position + 1}: expected token=scope[+scope] with scopes "
                f"in {', '.join(SCOPES)}"
            )
        if len(token) < 16:
            raise InsecureConfiguration(
                f"KEEL_API_TOKENS entry {position + 1}: tokens need at least 16 characters"
            )
        tokens.append((token.strip(), names))
    return tokens


class TokenAuth:
    """Checks `Authorization: Bearer <token>` against the configured tokens and scopes."""

    def __init__(self, settings: Settings) -> None:
        self.tokens = parse_tokens(settings.api_tokens)
        if not self.tokens and settings.profile == "production":
            raise InsecureConfiguration(
                "the production profile refuses to serve without KEEL_API_TOKENS "
                "(token=predict+feedback+admin,...)"
            )

    @property
    def enabled(self) -> bool:
        return bool(self.tokens)

    def check(self, header: str | None, scope: Scope) -> None:
        """Raise `Unauthorized` or `Forbidden` unless the presented token holds `scope` (no-op
        without tokens)."""
        if self.enabled and scope not in self.scopes_of(header):
            raise Forbidden(f"this token lacks the `{scope}` scope")

    def scopes_of(self, header: str | None) -> frozenset[str]:
        """The scopes of the presented token. Every configured token is compared with
        `hmac.compare_digest`, with no early exit, so timing tells nothing about which (or
        whether one) matched; neither the token nor any part of it enters an error or a log."""
        scheme, _, presented = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise Unauthorized("missing bearer token: send `Authorization: Bearer <token>`")
        candidate = presented.strip().encode()
        found: frozenset[str] = frozenset()
        matched = False
        for token, scopes in self.tokens:
            if hmac.compare_digest(token.encode(), candidate):
                found, matched = scopes, True
        if not matched:
            raise Unauthorized("invalid bearer token")
        return found


def require(scope: Scope) -> Callable[[Request], Awaitable[None]]:
    """A route dependency: the request's token must hold `scope` (no-op without tokens)."""

    async def check(request: Request) -> None:  # async: no thread-pool hop
        auth: TokenAuth = request.app.state.auth
        auth.check(request.headers.get("authorization"), scope)

    return check
