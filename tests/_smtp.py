"""A real SMTP server on 127.0.0.1 (aiosmtpd) with STARTTLS and login, for the notification
tests of toolkit.notify, the report scheduler and the live guards (fixtures registered in
tests/conftest.py)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from toolkit.notify import SmtpSettings

USER, PASSWORD = "alerts", "s3cret"


def tls_smtp(
    server: tuple[int, Mailbox, ssl.SSLContext],
    sender: str = "t@example.test",
    recipient: str = "x@example.test",
) -> SmtpSettings:
    """Settings that send to the ``smtp_server`` fixture: STARTTLS and a login."""
    port, _, tls = server
    return SmtpSettings(
        "127.0.0.1", port, True, USER, PASSWORD, sender, (recipient,), tls_context=tls
    )


@dataclass
class Mailbox:
    """What the server received, and who logged in."""

    messages: list[Message] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.box.envelopes.append(envelope)
        self.box.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture()
def smtp_server(certificate) -> Iterator[tuple[int, Mailbox, ssl.SSLContext]]:
    """(port, mailbox, client TLS context trusting the server's self-signed certificate)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = certificate
    box = Mailbox()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(str(cert), str(key))

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == USER
            and data.password.decode() == PASSWORD
        )
        if ok:
            box.logins.append(data.login.decode())
        return AuthResult(success=ok)

    port = _free_port()
    controller = Controller(
        _Handler(box),
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield port, box, ssl.create_default_context(cafile=str(cert))
    finally:
        controller.stop()


class HungServer:
    """A TCP server on 127.0.0.1 that accepts connections and never says a word: a mail server
    that hangs (no greeting, ever). Records each connection and when its client gives up."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = int(self._sock.getsockname()[1])
        self.accepted = threading.Event()
        self.connections = 0
        self.client_closed = threading.Event()  # a client hung up (timed out, or its process ended)
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            self._open.append(conn)
            self.connections += 1
            self.accepted.set()
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    def _drain(self, conn: socket.socket) -> None:
        try:
            while conn.recv(4096):
                pass
        except OSError:
            return
        self.client_closed.set()

    def close(self) -> None:
        self._sock.close()
        for c in self._open:
            with contextlib.suppress(OSError):
                c.close()


@pytest.fixture()
def hung_smtp() -> Iterator[HungServer]:
    """A mail server that accepts and never answers."""
    server = HungServer()
    try:
        yield server
    finally:
        server.close()
