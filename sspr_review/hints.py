"""What the command line says at first contact, beyond a command's own output: which weeks the store holds, and
(more below) the hints that point a new user to the fix.

Plain text from the workspace and the configuration; no click, so the messages can be tested on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .core.errors import AuthError, TokenRejected

if TYPE_CHECKING:
    from .core.config import Config


def held_line(ws: Any) -> str:
    """Which review weeks the store holds complete (what ``--week-ending`` may name), after a fetch."""
    weeks, tz = ws.held_weeks(), ws.config.review.timezone
    if not weeks:
        return f"The store holds no complete review week yet (Monday 00:00 to Monday 00:00, {tz})."
    ending = f"{weeks[0]:%Y-%m-%d} to {weeks[-1]:%Y-%m-%d}" if len(weeks) > 1 else f"{weeks[0]:%Y-%m-%d}"
    count = f"{len(weeks)} weeks" if len(weeks) > 1 else "1 week"
    return f"The store holds {count} complete, ending {ending} ({tz}; --week-ending reviews one)."


# -------------------------------------------------------------------------------- no configuration, no credential
#: What each ``[auth] mode`` needs, as the fix for a sign-in that failed with a configuration file.
MODE_FIXES = {
    "certificate": "check [auth] tenant_id, client_id and certificate_path, and that the certificate (its public"
    " part) is uploaded to the app registration (Certificates & secrets)",
    "client_secret": "check [auth] tenant_id and client_id, and that {secret_env} holds a current client secret"
    " of the app registration",
    "browser": "check [auth] tenant_id and client_id, that the app registration has the redirect URI"
    " http://localhost (Mobile and desktop) and that public client flows are allowed, and sign in again",
    "device_code": "check [auth] tenant_id and client_id, that public client flows are allowed on the app"
    " registration, and sign in again",
    "azure_cli": "sign in with 'az login --tenant <tenant id>' (the Azure CLI's app may lack AuditLog.Read.All:"
    " your own app registration is the reliable route)",
    "managed_identity": "run on an Azure resource with a managed identity; for a user-assigned one set [auth]"
    " client_id to its client ID",
    "workload_identity": "check [auth] tenant_id and client_id, the federated credential on the app registration"
    " and AZURE_FEDERATED_TOKEN_FILE",
    "token": "set SSPR_REVIEW_ACCESS_TOKEN to a current access token for Microsoft Graph",
    "auto": "choose [auth] mode for your app registration (certificate for a scheduled job, browser or"
    " device_code for an analyst) in {path}",
}
#: The first steps without a configuration file.
FIRST_STEPS = (
    "write a configuration for your app registration with 'sspr-review init config.toml --tenant-id ID"
    " --client-id ID --auth certificate' (README: Your own tenant) and pass --config config.toml; or try the kit"
    " on its demo tenant with --source demo"
)


#: What "no configuration" means: where one was looked for.
NO_CONFIG = "no configuration file (no --config, and SSPR_REVIEW_CONFIG is not set)"


def looked_for(config: Config) -> str:
    """Where the sign-in settings came from: the configuration file, or (none given) the defaults."""
    if config.source_path is None:
        return (
            f"{NO_CONFIG}, so [auth] mode is {config.auth.mode!r}: a token in SSPR_REVIEW_ACCESS_TOKEN (not set),"
            " then azure-identity's DefaultAzureCredential"
            if config.auth.mode == "auto"
            else f"{NO_CONFIG}; [auth] mode {config.auth.mode!r} from the environment"
        )
    return f"[auth] mode {config.auth.mode!r} in {config.source_path}"


def credential_fix(config: Config) -> str:
    """What to do when no token could be had: the first steps without a configuration file, else what the
    configured mode needs."""
    if config.source_path is None:
        return FIRST_STEPS
    fix = MODE_FIXES.get(config.auth.mode, "check [auth] in {path}")
    return fix.format(secret_env=config.auth.client_secret_env, path=config.source_path)


def auth_failure(exc: AuthError, config: Config | None, *, verbose: bool = False) -> str:
    """The one message of a failed sign-in: what failed, what was looked for and where, the fix; the credential
    chain in full only when ``verbose``."""
    lines = [f"authentication failed: {exc}"]
    if config is not None and not isinstance(exc, TokenRejected):  # a 401's message holds its own fix
        lines += [f"  looked for: {looked_for(config)}", f"  fix: {credential_fix(config)}"]
    detail = exc.detail
    if detail and verbose:
        lines += ["  in full:", *(f"    {line.strip()}" for line in detail.splitlines() if line.strip())]
    elif detail:
        lines.append("  --verbose shows why each credential failed")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- the demo
def holds_nothing(info: Mapping[str, Any]) -> bool:
    """Whether a store's status (``Store.status()``) shows no data of any kind: no interval, no snapshot."""
    return all(not entry["intervals"] and not entry["snapshots"] for entry in info["sources"].values())


def demo_beside(ws: Any) -> str | None:
    """When ``ws`` is not the demo tenant and the demo's store beside its own holds data (``make demo`` ran, then a
    plain command looked at the empty Graph store): the hint to add ``--source demo``; else ``None``."""
    from .ingest.store import Store  # lazy: the store loads pandas, which --help must not
    from .ingest.store.health import status  # lazy: the store loads pandas, which --help must not
    from .sources import KINDS  # lazy: the registry loads pydantic, which --help must not

    demo = next((kind for kind in KINDS.values() if kind.rebuilds_history), None)
    if demo is None or ws.kind.rebuilds_history:
        return None
    store = Store(ws.store.root, demo.store_key(ws.config))
    if not store.path.is_dir() or holds_nothing(status(store)):
        return None
    return f"the demo tenant's store {store.path} holds data: add --source {demo.name} to look at it"


def nothing_to_review(ws: Any) -> str:
    """The "no data" of a review of a store that holds nothing, with the fix."""
    hint = demo_beside(ws)
    return (
        f"no data: the store {ws.store.path} holds nothing yet, so there is no week to review; a fetch fills it"
        " (sspr-review fetch --config FILE, or sspr-review run)" + (f"; {hint}" if hint else "")
    )
