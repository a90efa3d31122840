"""The kit's exceptions, one tree.

::

    SsprReviewError                 anything the kit raises on purpose; ``str()`` says what and how to fix it
    ├── ConfigError                 a bad or unknown configuration key or value, or a bad command-line value
    ├── AuthError                   no credential could be built or no token acquired
    │   ├── TokenRejected           401: Graph rejected the token (also a SourceError, kind "auth")
    │   └── WrongTenant             the token, or Graph's organization, is another tenant than [auth] tenant_id
    ├── SourceError                 a source could not deliver data for a window
    │   ├── AccessDenied            403: the app lacks a named permission (or a workspace role)
    │   ├── LicenceRequired         403: the tenant lacks a named licence
    │   ├── FetchFailed             retries exhausted (429, 5xx, timeouts) or an unreadable answer
    │   │   └── PartialResult       Log Analytics answered with part of the rows (LogsQueryPartialResult)
    │   ├── WorkspaceNotFound       Log Analytics: no such workspace at this endpoint (id or cloud wrong)
    │   ├── TableMissing            Log Analytics: the workspace has no such table (no diagnostic setting)
    │   ├── QueryRejected           Log Analytics rejected a query (a KQL error)
    │   └── TokenRejected
    │   └── ParameterError          a notebook parameter is missing or malformed (one line, no traceback)
    ├── ReasonRulesError            a reason-rule table that cannot be used (also a ValueError)
    ├── StoreError                  the history store is unusable (locked by another fetch, corrupt file)
    │   └── StoreDamaged            a file of the store fails its check (unreadable, not what the kit wrote)
    ├── InputError                  a file given to the kit (Graph JSON export) is not what it claims
    │   ├── NotARecord              an archived line the kit cannot read (also a ValueError; set aside)
    │   └── NotStreamable           a .json export the streaming reader leaves to a whole read (never shown)
    ├── NotebookFailed              a report notebook raised while executing (exit 6)
    ├── ToolchainMissing            a packaged notebook, the report template or a Python kernel is missing (exit 6)
    ├── CopyRefused                 ``sspr-review notebooks`` would overwrite copies an analyst edited
    └── MailError                   the e-mail could not be built or sent (exit 8)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class SsprReviewError(Exception):
    """Base of every error the kit raises deliberately."""


class ConfigError(SsprReviewError):
    """Configuration is invalid: names the key and the accepted values."""


class AuthError(SsprReviewError):
    """A credential could not be built or a token could not be acquired. ``detail``: what the credential said in
    full (azure-identity's chain of attempted credentials, each with its reason) when the message shortens it."""

    detail: str = ""


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


class PartialResult(FetchFailed):
    """A Log Analytics query answered with part of its rows (``LogsQueryPartialResult``); ``truncated`` when the
    answer hit the response's row or size cap (the window can be split), else the reason is the workspace's.
    ``data`` holds the rows that did arrive."""

    kind = "partial"

    def __init__(self, message: str, *, source: str = "", truncated: bool = False, data: Any = None) -> None:
        super().__init__(message, source=source)
        self.truncated = truncated
        self.data = data


class WorkspaceNotFound(SourceError):
    """The Log Analytics workspace does not exist at the configured endpoint; the message names the fix."""

    kind = "workspace"


class TableMissing(SourceError):
    """The Log Analytics workspace has no such table: no diagnostic setting sends that category to it."""

    kind = "table"


class QueryRejected(SourceError):
    """Log Analytics rejected a query as invalid KQL (a bug in the kit: the message holds the query)."""

    kind = "query"


class TokenRejected(AuthError, SourceError):
    """Graph answered 401: the token is invalid, expired or for another tenant or resource.

    An authentication failure (exit 5), not a missing permission; as a :class:`SourceError` it is recorded for
    the source whose request was rejected when it happens part-way through a fetch.
    """

    kind = "auth"


class WrongTenant(AuthError):
    """The credential gave a token for another tenant than ``[auth] tenant_id`` (its ``tid`` claim), or Graph
    answered for another organization: nothing is fetched, since one customer's data would be reported under
    another's name. An authentication failure (exit 5)."""


class StoreError(SsprReviewError):
    """The history store cannot be used as asked."""


class StoreDamaged(StoreError):
    """A file of the store is damaged: unreadable, or not what the kit wrote (its size, checksum, row count or
    columns differ from the store's manifest). ``file`` is its path inside the tenant's folder, ``why`` says how."""

    def __init__(self, file: str, why: str) -> None:
        super().__init__(f"{file} is damaged: {why}")
        self.file = file
        self.why = why


class InputError(SsprReviewError):
    """An input file is malformed; the message names the file and what is wrong."""


class NotARecord(InputError, ValueError):
    """An archived line (a diagnostic setting's envelope) the kit cannot read; the message says why."""


class NotStreamable(InputError):
    """A ``.json`` export the streaming reader leaves to a whole read (text not in its encoding, or what ijson's
    yajl reads otherwise than ``json.loads``: raised by the bytes it hands ijson); caught by the streaming reader,
    which then reads the file whole, never shown to the user."""


class ParameterError(ConfigError):
    """A notebook parameter is missing or malformed. In a notebook it shows as one line (no traceback) and
    stops "Run All" before any section prints an empty result."""


class ReasonRulesError(SsprReviewError, ValueError):
    """A reason-rule table that cannot be used; the message names the file, line, column and the fix."""


class NotebookFailed(SsprReviewError):
    """A notebook raised while executing; the executed copy shows the failing cell."""

    def __init__(self, message: str, *, notebook: Path) -> None:
        super().__init__(message)
        self.notebook = notebook


class ToolchainMissing(SsprReviewError):
    """A packaged notebook, the report template or a Python kernel cannot be found; the text says what to do."""


class CopyRefused(SsprReviewError):
    """``sspr-review notebooks`` would overwrite copies an analyst edited; the text names them."""


class MailError(SsprReviewError):
    """The message could not be built or sent; the text says why and what to do.

    ``kind`` names the failed step of an SMTP session (``plain``, ``starttls``, ``login``, ``connect``; else
    ``error``), ``code`` the server's reply code of a refused login, ``reason`` the underlying error in short."""

    def __init__(self, message: str, *, kind: str = "error", code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.reason = reason
