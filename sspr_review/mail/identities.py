"""Keyed pseudonyms for the user identifiers in the e-mail body (``[mail] pseudonymise``)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any


def pseudonym(key: bytes, value: str) -> str:
    """A stable keyed pseudonym for a user identifier (HMAC-SHA256, case-insensitive)."""
    digest = hmac.new(key, value.strip().lower().encode(), hashlib.sha256).hexdigest()
    return f"user-{digest[:12]}"


class Identities:
    """Replaces user identifiers with pseudonyms when a key is given; without one, leaves them."""

    def __init__(self, key: bytes | None, findings: Iterable[Mapping[str, Any]]) -> None:
        self.key = key
        users = {u for f in findings for u in f.get("users", []) if isinstance(u, str) and u}
        self._pattern = (
            re.compile("|".join(re.escape(u) for u in sorted(users, key=len, reverse=True)), re.IGNORECASE)
            if key and users
            else None
        )

    def user(self, value: str) -> str:
        """One identifier."""
        return pseudonym(self.key, value) if self.key else value

    def text(self, value: str) -> str:
        """Free text (a title, an action) with every known identifier in it replaced."""
        if self._pattern is None or self.key is None:
            return value
        key = self.key
        return self._pattern.sub(lambda m: pseudonym(key, m.group(0)), value)
