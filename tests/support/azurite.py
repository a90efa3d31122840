"""Azurite, Microsoft's Azure Storage emulator (npm ``azurite``, pinned in tests/azurite/package-lock.json and
installed by ``make azurite``), started on 127.0.0.1 on a free port for the archive source's tests.

It serves the well-known development account ``devstoreaccount1`` with its published key; azure-storage-blob talks
to it unchanged through a connection string. ``--disableTelemetry`` keeps it off the network. Azurite has no Entra
sign-in for data-plane roles, so "Owner can list but not read" is a fault at the boundary (:class:`ReadRefused`), not
an Azurite feature.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.support import free_port

AZURITE = Path(__file__).parents[1] / "azurite"
BIN = AZURITE / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
#: The emulator's published development key (not a secret: Microsoft documents it for every Azurite install).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def available() -> str | None:
    """Why Azurite cannot run here, or ``None`` when it can."""
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs npm; .ci/run does this)"
    if not BIN.exists():
        return f"azurite is not installed in {AZURITE}/node_modules: run `make azurite`"
    return None


def connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )


@contextlib.contextmanager
def azurite(location: Path) -> Iterator[int]:
    """Run azurite-blob with its data in ``location``; yields its port; stops it (and only it) afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(location),
            "--silent",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"azurite exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            if time.monotonic() > deadline:
                raise RuntimeError("azurite did not start listening within 60 s")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        if proc.stderr:
            proc.stderr.close()


class ReadRefused:
    """A proxy in front of Azurite that lists blobs but refuses to read one (403 AuthorizationPermissionMismatch),
    as Azure Storage answers an Owner without the Storage Blob Data Reader role."""

    def __init__(self, upstream_port: int) -> None:
        upstream = f"http://127.0.0.1:{upstream_port}"

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                if "comp=list" not in self.path and "restype=container" not in self.path:
                    body = (
                        b'<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationPermissionMismatch</Code>'
                        b"<Message>This request is not authorized to perform this operation using this"
                        b" permission.</Message></Error>"
                    )
                    self.send_response(403)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("x-ms-error-code", "AuthorizationPermissionMismatch")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = httpx.get(upstream + self.path, headers=headers, timeout=30)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("transfer-encoding", "content-length", "connection", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def __enter__(self) -> ReadRefused:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
