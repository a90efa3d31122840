"""SMTP: one :func:`connect` (clear-text policy, STARTTLS or implicit TLS, login) for sending and for
``sspr-review doctor``'s check, which connects and logs in without sending anything."""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from email.message import EmailMessage

from ..core.config import LOOPBACK_HOSTS, MailSettings
from ..core.errors import MailError


@contextmanager
def connect(settings: MailSettings, env: Mapping[str, str] | None = None) -> Iterator[smtplib.SMTP]:
    """An SMTP session, TLS negotiated and logged in (when ``smtp_username_env`` is set), closed on exit.

    STARTTLS by default, implicit TLS with ``smtp_security = "tls"``, clear text only to a loopback relay with
    ``smtp_allow_plain``. Every failure, in the session's body too, is a :class:`MailError` whose ``kind`` says
    which step failed: ``plain`` (clear text refused), ``starttls`` (not offered), ``login`` (refused; ``code``
    holds the server's reply code) or ``connect`` (network, TLS or protocol)."""
    env = os.environ if env is None else env
    host, port, security = settings.smtp_host, settings.smtp_port, settings.smtp_security
    if security == "none" and not (settings.smtp_allow_plain and host in LOOPBACK_HOSTS):
        raise MailError(
            f"refusing to send mail in clear text to {host}: use smtp_security = 'starttls' or 'tls' "
            "(plain SMTP is allowed only to a localhost relay with smtp_allow_plain = true)",
            kind="plain",
        )
    context = ssl.create_default_context(cafile=settings.smtp_ca_file or None)
    user = env.get(settings.smtp_username_env, "")
    try:
        smtp: smtplib.SMTP
        if security == "tls":
            smtp = smtplib.SMTP_SSL(host, port, timeout=settings.smtp_timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=settings.smtp_timeout_seconds)
        with smtp:
            smtp.ehlo()
            if security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise MailError(
                        f"{host}:{port} does not offer STARTTLS; refusing to send in clear text "
                        "(use smtp_security = 'tls' for implicit TLS, or a relay that supports STARTTLS)",
                        kind="starttls",
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if user:
                smtp.login(user, env.get(settings.smtp_password_env, ""))
            yield smtp
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"SMTP login to {host}:{port} was refused ({exc.smtp_code}); check {settings.smtp_username_env} "
            f"and {settings.smtp_password_env}",
            kind="login",
            code=exc.smtp_code,
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise MailError(f"could not send through {host}:{port}: {reason}", kind="connect", reason=reason) from None


def smtp_send(message: EmailMessage, settings: MailSettings, *, env: Mapping[str, str] | None = None) -> None:
    """Send ``message`` over :func:`connect`."""
    with connect(settings, env) as smtp:
        smtp.send_message(message)
