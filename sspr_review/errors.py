"""The kit's exceptions, one tree.

::

    SsprReviewError                 anything the kit raises on purpose; ``str()`` says what and how to fix it
    ├── ConfigError                 a bad or unknown configuration key or value, or a bad command-line value
    ├── AuthError                   no credential could be built or no token acquired
    │   └── TokenRejected           401: Graph rejected the token (also a SourceError, kind "auth")
    ├── SourceError                 a source could not deliver data for a window
    │   ├── AccessDenied            403: the app lacks a named permission
    │   ├── LicenceRequired         403: the tenant lacks a named licence
    │   ├── FetchFailed             retries exhausted (429, 5xx, timeouts) or an unreadable answer
    │   └── TokenRejected
    ├── StoreError                  the history store is unusable (locked by another fetch, corrupt file)
    └── InputError                  a file given to the kit (Graph JSON export) is not what it claims
"""

from __future__ import annotations


class SsprReviewError(Exception):
    """Base of every error the kit raises deliberately."""


class ConfigError(SsprReviewError):
    """Configuration is invalid: names the key and the accepted values."""


class AuthError(SsprReviewError):
    """A credential could not be built or a token could not be acquired."""


class SourceError(SsprReviewError):
    """A source could not deliver data. ``source`` is the kit's source name (audit, risk, ...)."""

    kind = "error"

    def __init__(self, message: str, *, source: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.status = status


class AccessDenied(SourceError):
    """The app registration lacks a permission; the message names it."""

    kind = "permission"


class LicenceRequired(SourceError):
    """The tenant lacks a licence; the message names it."""

    kind = "licence"


class FetchFailed(SourceError):
    """Retries were exhausted or the answer could not be read."""

    kind = "failed"


class TokenRejected(AuthError, SourceError):
    """Graph answered 401: the token is invalid, expired or for another tenant or resource.

    An authentication failure (exit 5), not a missing permission; as a :class:`SourceError` it is recorded for
    the source whose request was rejected when it happens part-way through a fetch.
    """

    kind = "auth"


class StoreError(SsprReviewError):
    """The history store cannot be used as asked."""


class InputError(SsprReviewError):
    """An input file is malformed; the message names the file and what is wrong."""
