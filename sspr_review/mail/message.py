"""The emailed weekly review: one message that reads well in Outlook and Gmail (which run no JavaScript).

Structure::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain                     the same content as text          (templates/body.txt.j2)
    │   └── multipart/related
    │       ├── text/html                  coverage, needs attention with actions, KPIs, <img src="cid:...">
    │       │                                                                 (templates/body.html.j2)
    │       └── image/png (Content-ID) ×N  charts rendered by kaleido through a local Chromium
    └── application/zip attachments        weekly-review.zip, adoption-trends.zip (the interactive HTML)

Everything is built from a report folder written by ``sspr-review run`` (findings.json and charts.json), so
``sspr-review email <folder>`` can send an earlier run. All tenant text is escaped. With ``[mail]
pseudonymise`` user identifiers in the body become keyed HMACs and the attachments (which name users) are left
out.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from ..core.config import MailSettings, env_name
from ..core.errors import ConfigError, InputError
from . import body
from .chromium import INSTALL_HINT, KALEIDO_HINT, find_chromium, has_kaleido
from .identities import Identities

#: The largest message sent over SMTP (bytes as sent, base64 included): many relays and mailboxes refuse
#: more. Each HTML report is about 5 MB (plotly.js is embedded for offline charts), about 1.5 MB zipped.
MESSAGE_LIMIT = 5_000_000
#: The size of a chart image in the body, in pixels.
CHART_WIDTH, CHART_HEIGHT = 760, 340


@dataclass
class ReportFolder:
    """What ``sspr-review run`` wrote for one week."""

    folder: Path
    findings: dict[str, Any]
    charts: dict[str, Any]
    attachments: list[Path] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> ReportFolder:
        path = folder / "findings.json"
        try:
            findings = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{folder} has no findings.json: is it a report folder of 'sspr-review run'?") from None
        except ValueError as exc:
            raise InputError(f"{path} is not valid JSON ({exc})") from None
        charts_path = folder / "charts.json"
        charts = json.loads(charts_path.read_text(encoding="utf-8")) if charts_path.exists() else {}
        return cls(folder, findings, charts)


def subject(settings: MailSettings, findings: Mapping[str, Any]) -> str:
    items = findings.get("findings", [])
    fields = {
        "tenant": str(findings.get("tenant", {}).get("name", "")),
        "week_ending": str(findings.get("window", {}).get("week_ending", "")),
        "critical_count": sum(1 for f in items if f.get("severity") == "critical"),
        "high_count": sum(1 for f in items if f.get("severity") in ("critical", "high")),
        "findings_count": len(items),
    }
    text = settings.subject.format(**fields)
    return " ".join(text.split())  # no header injection through tenant text


def addressed(settings: MailSettings, subject_line: str) -> EmailMessage:
    """A new message with its headers: ``subject_line``, From, To and Cc as ``settings`` say, the date and an id."""
    msg = EmailMessage()
    msg["Subject"] = subject_line
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.to)
    if settings.cc:
        msg["Cc"] = ", ".join(settings.cc)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="sspr-review.invalid")
    return msg


def render_charts(charts: Mapping[str, Any]) -> tuple[list[tuple[str, bytes]], str | None]:
    """PNG images of the report's charts via kaleido, or ([], why not)."""
    if not charts:
        return [], "the report folder has no charts.json"
    if not has_kaleido():
        return [], f"chart images need the [mail] extra, which is not installed: {KALEIDO_HINT}"
    browser = find_chromium()
    if not browser:
        return [], f"no Chromium for kaleido to render charts ({INSTALL_HINT})"
    try:
        # here, not at the top: kaleido is the optional [mail] extra, and both start slowly
        import kaleido  # lazy: kaleido is optional (the [mail] extra)
        import plotly.io as pio  # lazy: plotly's image export loads its renderers; only chart images need it

        os.environ.setdefault("BROWSER_PATH", browser)
        kaleido.start_sync_server(silence_warnings=True)
        try:
            images = []
            for name, spec in charts.items():
                fig = pio.from_json(json.dumps(spec))
                fig.update_layout(width=CHART_WIDTH, height=CHART_HEIGHT, margin={"l": 50, "r": 20, "t": 50, "b": 40})
                opts = {"format": "png", "width": CHART_WIDTH, "height": CHART_HEIGHT}
                images.append((name, kaleido.calc_fig_sync(fig, opts=opts)))
        finally:
            kaleido.stop_sync_server(silence_warnings=True)
    except Exception as exc:  # kaleido/Chromium failures must not stop the mail
        return [], f"chart rendering failed ({type(exc).__name__}: {exc})"
    return images, None


@dataclass
class Composed:
    message: EmailMessage
    notes: list[str]


@dataclass(frozen=True)
class _Parts:
    """What goes into the message besides the body's text: chart images with their content ids, and the
    zipped reports as (file name, content, report inside)."""

    images: list[tuple[str, bytes]]
    cids: list[tuple[str, str]]
    attachments: list[tuple[str, bytes, str]]


def compose(
    report: ReportFolder,
    settings: MailSettings,
    *,
    env: Mapping[str, str] | None = None,
    size_limit: int | None = None,
    measure: Callable[[EmailMessage], int] | None = None,
) -> Composed:
    """Build the message, the HTML reports attached zipped. It stays within ``size_limit`` bytes (default
    :data:`MESSAGE_LIMIT`) as ``measure`` counts them (default: the message as sent): an attachment that does
    not fit is left out, and the body says so."""
    missing = missing_addresses(settings)
    if missing:
        raise ConfigError(f"[mail] is missing what the message needs: {'; '.join(missing)}")
    key = _pseudonym_key(settings, os.environ if env is None else env)
    ids = Identities(key, report.findings.get("findings", []))
    notes: list[str] = []
    attachments = _attachments(report, settings, notes, pseudonymised=key is not None)
    images: list[tuple[str, bytes]] = []
    if settings.charts:
        images, why = render_charts(report.charts)
        if why:  # said once: the caller shows the notes (the CLI on stderr), and the body says it too
            notes.append(f"Charts are not shown: {why}.")
    parts = _Parts(images, [(name, make_msgid(domain="sspr-review.invalid")[1:-1]) for name, _ in images], attachments)
    limit = MESSAGE_LIMIT if size_limit is None else size_limit
    size = measure or (lambda m: len(m.as_bytes()))
    left_out: list[str] = []
    while True:
        msg = _message(report, settings, ids, parts, [*notes, *left_out])
        if size(msg) <= limit or not attachments:
            break
        _, _, inside = attachments.pop()  # the trends go first, then the weekly review
        left_out.insert(
            0,
            f"{inside} is not attached: with it the message would exceed {limit / 1e6:.1f} MB; "
            f"it is in the report folder {report.folder.name} on the reporting host.",
        )
    return Composed(msg, [*notes, *left_out])


#: What each address setting is, for the messages that say it is empty.
ADDRESSES = {
    "to": "the recipients, such as a@example.com, b@example.com",
    "sender": "the From address; with transport graph, the mailbox that sends",
}


def missing_addresses(settings: MailSettings) -> list[str]:
    """The empty address settings, each named with what it is and the environment variable that sets it."""
    given = {"to": bool(settings.to), "sender": bool(settings.sender)}
    return [
        f"{key} ({what}): set it in the configuration file or {env_name('mail', key)}"
        for key, what in ADDRESSES.items()
        if not given[key]
    ]


def _pseudonym_key(settings: MailSettings, env: Mapping[str, str]) -> bytes | None:
    """The pseudonymisation key from the environment, ``None`` when not pseudonymising."""
    if not settings.pseudonymise:
        return None
    secret = env.get(settings.pseudonym_key_env, "")
    if len(secret) < 16:
        raise ConfigError(
            f"[mail] pseudonymise needs a key of at least 16 characters in the environment variable "
            f"{settings.pseudonym_key_env}"
        )
    return secret.encode()


def _attachments(
    report: ReportFolder, settings: MailSettings, notes: list[str], *, pseudonymised: bool
) -> list[tuple[str, bytes, str]]:
    """The wanted HTML reports, zipped, as (file name, content, report inside); none when pseudonymised."""
    if not (settings.attach_html or settings.attach_trends):
        return []
    if pseudonymised:
        notes.append("The HTML reports are not attached because they name users and the body is pseudonymised.")
        return []
    out = []
    for name, wanted in (
        ("weekly-review.html", settings.attach_html),
        ("adoption-trends.html", settings.attach_trends),
    ):
        path = report.folder / name
        if wanted and path.exists():
            out.append((f"{Path(name).stem}.zip", _zip(name, path.read_bytes()), name))
    return out


def _message(
    report: ReportFolder, settings: MailSettings, ids: Identities, parts: _Parts, notes: list[str]
) -> EmailMessage:
    attached = [f"{name} ({inside}, {len(content) / 1e6:.1f} MB)" for name, content, inside in parts.attachments]
    body_html, body_text = body.render(body.context(report.findings, ids, parts.cids, attached, notes))
    msg = addressed(settings, subject(settings, report.findings))
    msg.set_content(body_text)
    msg.add_alternative(body_html, subtype="html")
    html_part = msg.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    for (name, png), (_, cid) in zip(parts.images, parts.cids, strict=True):
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>", filename=f"{name}.png")
    for name, content, _ in parts.attachments:
        msg.add_attachment(content, maintype="application", subtype="zip", filename=name)
    return msg


def _zip(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()
