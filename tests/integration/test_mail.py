"""The e-mailed review through a real SMTP server (aiosmtpd on 127.0.0.1) and through Graph sendMail."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sspr_review import mail
from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.core.errors import ConfigError, MailError, SsprReviewError
from sspr_review.report.run import run
from tests.support.smtp_relay import Inbox, relay

# the report folder the mail is built from is made by `run`, which executes the notebooks (about 30 s)
pytestmark = pytest.mark.notebook
HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"
KEY = "a-pseudonymisation-key-for-tests"


@pytest.fixture(scope="module")
def report_folder(demo_store: Path, small_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = Workspace(config.load(small_config, store__path=str(demo_store)), "demo")
    folder = run(ws, fetch=False, out=tmp_path_factory.mktemp("reports")).folder
    # plant hostile tenant text in the machine-readable review the mail is built from
    doc = json.loads((folder / "findings.json").read_text())
    doc["tenant"]["name"] = f"Northgate {HOSTILE}"
    doc["findings"][0]["title"] = f"{doc['findings'][0]['title']} {HOSTILE}"
    doc["findings"][0]["users"] = [*doc["findings"][0]["users"], f"evil{HOSTILE}@x.example"]
    (folder / "findings.json").write_text(json.dumps(doc))
    return folder


def settings(**values: Any) -> config.MailSettings:
    base = {"to": ["secops@northgate-eng.example"], "sender": "sspr-review@northgate-eng.example"}
    return config.MailSettings(**(base | values))


def test_starttls_login_and_mime_structure(report_folder: Path, tls_files: tuple[Path, Path]) -> None:
    inbox = Inbox()
    controller = relay(inbox, tls=tls_files, auth=True)
    try:
        cfg = settings(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_ca_file=str(tls_files[0]))
        composed = mail.compose(mail.ReportFolder.load(report_folder), cfg)
        env = {"SSPR_REVIEW_SMTP_USERNAME": "relay-user", "SSPR_REVIEW_SMTP_PASSWORD": "s3cret"}
        mail.smtp_send(composed.message, cfg, env=env)
    finally:
        controller.stop()
    (msg,) = inbox.messages
    doc = json.loads((report_folder / "findings.json").read_text())
    high = sum(1 for f in doc["findings"] if f["severity"] in ("critical", "high"))
    assert f"week ending {doc['window']['week_ending']}: {high} high or critical" in str(msg["Subject"])
    assert "\n" not in str(msg["Subject"])
    assert msg.get_content_type() == "multipart/mixed"
    alternative, *attachments = msg.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, related = alternative.iter_parts()
    assert plain.get_content_type() == "text/plain" and related.get_content_type() == "multipart/related"
    html_part, *images = related.iter_parts()
    assert html_part.get_content_type() == "text/html"
    assert len(images) == 3 and all(p.get_content_type() == "image/png" for p in images)
    body = html_part.get_content()
    for image in images:
        cid = image["Content-ID"].strip("<>")
        assert f"cid:{cid}" in body and image.get_payload(decode=True)[:4] == b"\x89PNG"
    names = {p.get_filename(): p for p in attachments}
    # both reports attached, compressed, and the whole message under 5 MB (it was 14 MB with the raw HTML)
    assert set(names) == {"weekly-review.zip", "adoption-trends.zip"}
    import io
    import zipfile

    for stem in ("weekly-review", "adoption-trends"):
        archive = zipfile.ZipFile(io.BytesIO(names[f"{stem}.zip"].get_payload(decode=True)))
        assert archive.read(f"{stem}.html") == (report_folder / f"{stem}.html").read_bytes()
    assert len(msg.as_bytes()) < 5_000_000
    assert composed.notes == []
    text = plain.get_content()
    assert "Attached, zipped: weekly-review.zip (weekly-review.html, " in text
    assert "adoption-trends.zip (adoption-trends.html, " in text
    # escaped tenant text: shown, never markup
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body
    assert "<script" not in body and "<img src=x" not in body
    assert "Needs attention" in body and "This week in numbers" in body


def test_pseudonymised_body_names_no_user_and_attaches_nothing(report_folder: Path) -> None:
    inbox = Inbox()
    controller = relay(inbox)
    try:
        cfg = settings(
            smtp_host="127.0.0.1",
            smtp_port=controller.port,
            smtp_security="none",
            smtp_allow_plain=True,
            pseudonymise=True,
            charts=False,
        )
        composed = mail.compose(mail.ReportFolder.load(report_folder), cfg, env={"SSPR_REVIEW_PSEUDONYM_KEY": KEY})
        mail.smtp_send(composed.message, cfg, env={})
    finally:
        controller.stop()
    (msg,) = inbox.messages
    text = msg.get_body(("plain",)).get_content() + msg.get_body(("html",)).get_content()
    doc = json.loads((report_folder / "findings.json").read_text())
    users = {u for f in doc["findings"] if f["severity"] != "info" for u in f["users"]}
    assert users and not any(u.lower() in text.lower() for u in users)
    assert mail.pseudonym(KEY.encode(), sorted(users)[0]) in text
    assert not [p for p in msg.iter_attachments()]
    assert any("not attached" in n for n in composed.notes)


def test_pseudonymise_without_a_key_is_refused(report_folder: Path) -> None:
    with pytest.raises(config.ConfigError, match="SSPR_REVIEW_PSEUDONYM_KEY"):
        mail.compose(mail.ReportFolder.load(report_folder), settings(pseudonymise=True, charts=False), env={})


def test_refuses_clear_text_unless_allowed_for_localhost(report_folder: Path) -> None:
    inbox = Inbox()
    controller = relay(inbox)  # no TLS offered
    try:
        report = mail.ReportFolder.load(report_folder)
        starttls = settings(smtp_host="127.0.0.1", smtp_port=controller.port, charts=False)
        with pytest.raises(MailError, match="does not offer STARTTLS; refusing to send in clear text"):
            mail.smtp_send(mail.compose(report, starttls).message, starttls)
        plain = settings(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_security="none", charts=False)
        with pytest.raises(MailError, match="refusing to send mail in clear text"):
            mail.smtp_send(mail.compose(report, plain).message, plain)
        remote = settings(smtp_host="mail.example.com", smtp_security="none", smtp_allow_plain=True, charts=False)
        with pytest.raises(MailError, match="refusing to send mail in clear text"):
            mail.smtp_send(mail.compose(report, remote).message, remote)
        assert inbox.messages == []
        allowed = plain.model_copy(update={"smtp_allow_plain": True})
        mail.smtp_send(mail.compose(report, allowed).message, allowed)
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_login_refused_is_explained(report_folder: Path, tls_files: tuple[Path, Path]) -> None:
    inbox = Inbox()
    controller = relay(inbox, tls=tls_files, auth=True)
    try:
        cfg = settings(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_ca_file=str(tls_files[0]), charts=False)
        env = {"SSPR_REVIEW_SMTP_USERNAME": "relay-user", "SSPR_REVIEW_SMTP_PASSWORD": "wrong"}
        with pytest.raises(MailError, match=r"login .* was refused .*SSPR_REVIEW_SMTP_PASSWORD"):
            mail.smtp_send(mail.compose(mail.ReportFolder.load(report_folder), cfg).message, cfg, env=env)
    finally:
        controller.stop()
    assert inbox.messages == []


def test_without_a_browser_the_body_goes_without_images(report_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    composed = mail.compose(mail.ReportFolder.load(report_folder), settings())
    assert not [p for p in composed.message.walk() if p.get_content_type() == "image/png"]
    assert any("no Chromium" in n for n in composed.notes)
    assert "no Chromium" in composed.message.get_body(("html",)).get_content()


def test_dry_run_writes_eml_into_the_report_folder(report_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(report_folder, folder)
    env = {
        **os.environ,
        "SSPR_REVIEW_MAIL_TO": "a@x.example",
        "SSPR_REVIEW_MAIL_SENDER": "b@x.example",
        "SSPR_REVIEW_MAIL_CHARTS": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "sspr_review.cli", "email", str(folder), "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    eml = folder / "weekly-review.eml"
    assert eml.exists() and eml.stat().st_mode & 0o077 == 0
    assert eml.stat().st_size < 5_000_000
    parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert parsed["To"] == "a@x.example"
    # without recipients or sender (issue 25: the README's dry run failed on each in turn), placeholders, said so
    unaddressed = subprocess.run(
        [sys.executable, "-m", "sspr_review.cli", "email", str(folder), "--dry-run"],
        capture_output=True,
        text=True,
        env={**os.environ, "SSPR_REVIEW_MAIL_CHARTS": "false"},
        timeout=120,
    )
    assert unaddressed.returncode == 0, unaddressed.stderr
    parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert parsed["To"] == "sspr-review-recipients@example.invalid" and parsed["From"] == "sspr-review@example.invalid"
    assert "[mail] to is empty (set it in the configuration file or SSPR_REVIEW_MAIL_TO)" in unaddressed.stderr
    assert "[mail] sender is empty (set it in the configuration file or SSPR_REVIEW_MAIL_SENDER)" in unaddressed.stderr


def test_sending_without_addresses_names_both_settings_and_their_variables(report_folder: Path) -> None:
    with pytest.raises(ConfigError) as err:
        mail.compose(mail.ReportFolder.load(report_folder), settings(to=[], sender=""))
    assert str(err.value) == (
        "[mail] is missing what the message needs: to (the recipients, such as a@example.com, b@example.com): set it"
        " in the configuration file or SSPR_REVIEW_MAIL_TO; sender (the From address; with transport graph, the"
        " mailbox that sends): set it in the configuration file or SSPR_REVIEW_MAIL_SENDER"
    )


def test_graph_send_mail_request_shape(report_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.graph_server import GraphData, GraphServer

    with GraphServer(GraphData(), token="t0k") as server:
        env = {
            "SSPR_REVIEW_GRAPH_URL": server.url,
            "SSPR_REVIEW_ACCESS_TOKEN": "t0k",
            "SSPR_REVIEW_STORE_PATH": str(tmp_path),
        }
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        cfg = config.load(env=env).model_copy(
            update={"mail": settings(transport="graph", sender="sspr-review@northgate-eng.example")}
        )
        _, notes = mail.send(mail.ReportFolder.load(report_folder), cfg)
        (sent,) = server.data.sent_mail
        (request,) = [r for r in server.requests if r.method == "POST"]
    assert "sspr-review@northgate-eng.example" in request.path and request.path.endswith("/sendMail")
    assert len(request.body) < 4 * 1024 * 1024
    message = sent["message"]
    assert message["body"]["contentType"] == "HTML" and "Needs attention" in message["body"]["content"]
    assert [r["emailAddress"]["address"] for r in message["toRecipients"]] == ["secops@northgate-eng.example"]
    inline = [a for a in message["attachments"] if a["isInline"]]
    assert len(inline) == 3 and all(f"cid:{a['contentId']}" in message["body"]["content"] for a in inline)
    files = {a["name"]: a for a in message["attachments"] if not a["isInline"]}
    # Graph accepts 4 MB per request: the report goes zipped, and what does not fit is named
    assert "weekly-review.zip" in files
    import io
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(files["weekly-review.zip"]["contentBytes"])))
    assert archive.read("weekly-review.html") == (report_folder / "weekly-review.html").read_bytes()
    assert any("adoption-trends.html" in n for n in notes)
    assert sent["saveToSentItems"] is False


def test_graph_send_mail_names_the_permission(
    report_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.graph_server import GraphData, GraphServer

    with GraphServer(GraphData(), token="t0k") as server:
        server.deny("/sendMail")
        env = {"SSPR_REVIEW_GRAPH_URL": server.url, "SSPR_REVIEW_ACCESS_TOKEN": "t0k"}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        cfg = config.load(env=env).model_copy(update={"mail": settings(transport="graph", charts=False)})
        with pytest.raises(SsprReviewError, match=r"Mail\.Send"):
            mail.send(mail.ReportFolder.load(report_folder), cfg)


def test_takeover_findings_are_in_needs_attention(report_folder: Path) -> None:
    doc = json.loads((report_folder / "findings.json").read_text())
    composed = mail.compose(mail.ReportFolder.load(report_folder), settings(charts=False))
    text = composed.message.get_body(("plain",)).get_content()
    for kind in ("security_info_changed_after_reset", "phone_only_reset_new_ip"):
        found = [f for f in doc["findings"] if f["kind"] == kind]
        assert found, kind
        for f in found:
            assert f"[{f['severity'].upper()}] {f['title']}" in text


def test_one_connect_logs_in_for_sending_and_for_doctor(tls_files: tuple[Path, Path]) -> None:
    from sspr_review.doctor import smtp_check

    inbox = Inbox()
    controller = relay(inbox, tls=tls_files, auth=True)
    try:
        cfg = settings(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_ca_file=str(tls_files[0]))
        good = {"SSPR_REVIEW_SMTP_USERNAME": "relay-user", "SSPR_REVIEW_SMTP_PASSWORD": "s3cret"}
        with mail.connect(cfg, good) as session:
            assert session.sock is not None  # TLS negotiated and logged in: the session is open, nothing sent
        bad = good | {"SSPR_REVIEW_SMTP_PASSWORD": "wrong"}
        with pytest.raises(MailError, match=r"login .* was refused") as refused, mail.connect(cfg, bad):
            pass
        assert refused.value.kind == "login" and refused.value.code == 535
        # doctor's check is the same connect(): the same outcome, said as a check with its fix
        checked = smtp_check(config.Config(mail=cfg), bad)
        assert not checked.ok and checked.detail == "login refused (535)" and "SSPR_REVIEW_SMTP_PASSWORD" in checked.fix
        assert smtp_check(config.Config(mail=cfg), good).ok
    finally:
        controller.stop()
    assert inbox.messages == []


def test_one_chromium_lookup_for_mail_and_doctor(report_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sspr_review.doctor import chromium_check
    from sspr_review.mail.chromium import find_chromium

    monkeypatch.setenv("BROWSER_PATH", "/opt/some/chrome")
    assert find_chromium() == "/opt/some/chrome" == chromium_check().detail
    monkeypatch.delenv("BROWSER_PATH")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    check = chromium_check()
    images, why = mail.render_charts(mail.ReportFolder.load(report_folder).charts)
    assert not check.ok and images == [] and why is not None and check.fix in why


def test_html_part_is_escaped_and_inline_styled_the_text_part_is_plain(report_folder: Path) -> None:
    message = mail.compose(mail.ReportFolder.load(report_folder), settings(charts=False)).message
    html_body = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert HOSTILE in text and "&lt;" not in text and "&#x27;" not in text  # text: the tenant's text as it is
    assert HOSTILE not in html_body and "<style" not in html_body.lower()
    from sspr_review.report.style import SEVERITY_COLOURS

    doc = json.loads((report_folder / "findings.json").read_text())
    shown = {f["severity"] for f in doc["findings"] if f["severity"] != "info"}
    assert shown and all(f"style='background:{SEVERITY_COLOURS[s]};color:#fff" in html_body for s in shown)
