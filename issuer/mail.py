"""Outgoing mail: the award e-mail to the earner, kept in an outbox and delivered with retries.

The message is written to the ``outgoing_mail`` table (the outbox) in the transaction that
stores the award, so a stored award always has its e-mail and a failed award has none;
delivery happens from there, after the commit and outside any request. A mail server that
is down, slow or refusing therefore never loses or blocks an award: the message waits in
the outbox and is tried again, with growing pauses, until it is sent or ``MAX_ATTEMPTS``
is reached (which is logged as an error). Each message goes out at most once, even when the
process sending it is killed mid-send (see ``Outbox``), and each serving process starts its
delivery when it starts, not at its first award.

Two transports: SMTP (``ISSUER_SMTP_*``), or, when no SMTP host is set (the development
default), ``.eml`` files in ``instance/outbox/`` that any mail program opens.

The earner's name is the assessor's text, so it never decides where mail goes: the outbox
keeps the bare address and delivery gives it to the server as the only recipient (never
re-read from the ``To`` header), and the name is always written as RFC 2047 encoded words,
in which no mail program can read an address. Headers are kept as written
(``refold_source="none"``): Python's refolding of a long display name drops its quotes.
"""

from __future__ import annotations

import atexit
import email.policy
import functools
import logging
import os
import secrets
import smtplib
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import charset as email_charset
from email import message_from_string
from email.header import Header
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from html import escape
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import Integer, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from issuer.issuance import IssuedAward
from issuer.storage import Database
from issuer.storage.models import OutgoingMail

log = logging.getLogger("issuer.mail")

AWARD_NOTICE = "award_notice"
MAX_ATTEMPTS = 12
# Pauses after the 1st, 2nd, ... failed attempt; the last one repeats. About three days in all.
RETRY_PAUSES = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
# A worker that claimed a message and died lets another take it after this long; a message
# it had begun to send is then uncertain (``Outbox``). Far longer than one send can take.
CLAIM_LEASE = timedelta(minutes=5)
# Messages whose sending worker died are looked for at most this often (a scan of the outbox).
SETTLE_SECONDS = 60.0
UNCERTAIN = (
    "Uncertain: the process sending it stopped mid-send, so the mail server may or may not "
    "have it; not sent again (resend it if it did not arrive)."
)
# How long stopping the delivery thread waits for the messages being sent.
STOP_SECONDS = 30.0
SMTP_TIMEOUT_SECONDS = 20
WORKER_POLL_SECONDS = 60
GATHER_SECONDS = 0.05
# Messages claimed in one transaction, and the SMTP connections that share them out; the
# worker goes on to the next batch at once while batches come back full.
DELIVERY_BATCH = 200
SENDERS = 4
KEPT_CONNECTION_SECONDS = 30.0
_TRUE_WORDS = ("1", "true", "yes", "on")
# ASCII headers (RFC 2047), or UTF-8 headers for an address only SMTPUTF8 carries.
_POLICY = email.policy.default.clone(refold_source="none")
_SMTPUTF8_POLICY = email.policy.SMTPUTF8.clone(refold_source="none")
# UTF-8 bodies in quoted-printable, as ``EmailMessage.set_content`` writes them.
_UTF8_QP = email_charset.Charset("utf-8")
_UTF8_QP.body_encoding = email_charset.QP


# What a server answers about one message (recipient or sender refused, data refused, no
# SMTPUTF8 for its address): the connection stays usable, as smtplib resets the transaction.
_REFUSALS = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPNotSupportedError,
)


@dataclass(frozen=True)
class _Claimed:
    """A message this worker holds the lease of (until ``lease``), as the outbox keeps it."""

    id: int
    kind: str
    recipient: str
    message: str
    attempts: int
    lease: datetime


@dataclass(frozen=True)
class _Attempt:
    """A claimed message marked sending: its ``attempts`` with this one, and the lease of
    this attempt, which guards the recording of its outcome."""

    mail: _Claimed
    attempts: int
    lease: datetime


class Transport(Protocol):
    def send(self, stored: str, recipient: str) -> None:
        """Hand ``stored`` (a message in the outbox's form, sent as it is) on to
        ``recipient`` (the envelope address, whatever the headers say). Raises OSError or
        smtplib.SMTPException when it cannot."""
        ...

    def session(self, *, keep: bool = False) -> AbstractContextManager[Callable[[str, str], None]]:
        """A ``send`` for many messages in a row (one SMTP connection for all of them);
        with ``keep`` the connection may stay open for the next session."""
        ...


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    username: str
    password: str
    sender: str
    starttls: bool
    outbox_dir: Path

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MailSettings:
        """The mail settings of a validated configuration."""
        host = str(config.get("SMTP_HOST") or "").strip()
        base_host = urlsplit(config["BASE_URL"]).hostname or "localhost"
        sender = str(config.get("SMTP_FROM") or "").strip()
        if not sender:
            sender = formataddr((str(config["NAME"]), f"no-reply@{base_host}"))
        return cls(
            host=host,
            port=int(config.get("SMTP_PORT") or 587),
            username=str(config.get("SMTP_USERNAME") or ""),
            password=str(config.get("SMTP_PASSWORD") or ""),
            sender=sender,
            starttls=str(config.get("SMTP_STARTTLS", "true")).strip().lower() in _TRUE_WORDS,
            outbox_dir=Path(config["OUTBOX_DIR"]),
        )


class SmtpTransport:
    """Sends through an SMTP server, upgrading to TLS with STARTTLS unless told not to."""

    def __init__(self, settings: MailSettings, *, timeout: float = SMTP_TIMEOUT_SECONDS):
        self._settings = settings
        self._timeout = timeout
        # Connections kept open between sessions (when each was last used), so that awards
        # arriving one by one do not each open a connection: a kept one is probed with NOOP
        # before it is used again, and closed once idle for KEPT_CONNECTION_SECONDS.
        self._kept: list[tuple[float, smtplib.SMTP]] = []
        self._kept_lock = threading.Lock()

    def send(self, stored: str, recipient: str) -> None:
        with self.session() as send:
            send(stored, recipient)

    @contextmanager
    def session(self, *, keep: bool = False) -> Iterator[Callable[[str, str], None]]:
        """One connection, taken at the first message (a kept one, or a new one) and used
        for the next ones; a message the server refuses leaves it usable (smtplib resets
        the transaction), any other error (disconnect, timeout, ...) closes it and the next
        message opens another. At the end it is kept for the next session with ``keep``
        (the delivery thread of a long-lived process), else closed.
        """
        connection: smtplib.SMTP | None = None

        def send(stored: str, recipient: str) -> None:
            nonlocal connection
            if connection is None:
                connection = self._take()
            try:
                _send_stored(connection, stored, recipient)
            except _REFUSALS:
                raise
            except (OSError, smtplib.SMTPException):
                _close(connection)
                connection = None
                raise

        try:
            yield send
        finally:
            if connection is not None:
                if keep:
                    self._keep(connection)
                else:
                    _close(connection)

    def _take(self) -> smtplib.SMTP:
        """A kept connection that still answers, or a new one."""
        while True:
            with self._kept_lock:
                if not self._kept:
                    break
                last_used, connection = self._kept.pop()
            if time.monotonic() - last_used > KEPT_CONNECTION_SECONDS:
                _close(connection)
                continue
            try:
                if connection.noop()[0] == 250:
                    return connection
            except (OSError, smtplib.SMTPException):
                pass
            connection.close()
        return self._connect()

    def _keep(self, connection: smtplib.SMTP) -> None:
        now = time.monotonic()
        with self._kept_lock:
            stale = [kept for used, kept in self._kept if now - used > KEPT_CONNECTION_SECONDS]
            self._kept = [(used, kept) for used, kept in self._kept if kept not in stale]
            keep = len(self._kept) < SENDERS
            if keep:
                self._kept.append((now, connection))
        for kept in stale if keep else [*stale, connection]:
            _close(kept)

    def close(self) -> None:
        """Close the kept connections."""
        with self._kept_lock:
            kept, self._kept = self._kept, []
        for _used, connection in kept:
            _close(connection)

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=self._timeout)
        try:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password)
        except BaseException:
            _close(smtp)
            raise
        return smtp


def _send_stored(smtp: smtplib.SMTP, stored: str, recipient: str) -> None:
    """``smtp.send_message`` for a message already in its final form, without parsing and
    writing it again: the envelope sender from its From header, SMTPUTF8 (which the server
    must offer) when an address is not ASCII, CRLF line ends.

    Raises as ``send_message``: SMTPNotSupportedError when SMTPUTF8 is needed and missing.
    """
    sender = _envelope_sender(stored)
    options: list[str] = []
    if not (sender + recipient).isascii():
        smtp.ehlo_or_helo_if_needed()
        if not smtp.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError(
                "One or more source or delivery addresses require internationalized email "
                "support, but the server does not advertise the required SMTPUTF8 capability"
            )
        options = ["SMTPUTF8", "BODY=8BITMIME"]
    wire = stored.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    smtp.sendmail(sender, [recipient], wire, mail_options=options)


def _envelope_sender(stored: str) -> str:
    """The address of the From header of a stored message ("" when it has none), read
    from the unfolded header line (a parse of the whole head would cost more than the
    send)."""
    lines = stored.split("\n\n", 1)[0].split("\n")
    for position, line in enumerate(lines):
        if line[:5].lower() == "from:":
            value = line[5:]
            for continued in lines[position + 1 :]:
                if continued[:1] not in (" ", "\t"):
                    break
                value += continued
            return parseaddr(value)[1]
    return ""


def _close(smtp: smtplib.SMTP) -> None:
    """Say goodbye if the server still listens; close the socket in any case."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


class FileTransport:
    """Writes each message as an ``.eml`` file (development, or no SMTP host configured)."""

    def __init__(self, directory: Path):
        self.directory = directory

    def send(self, stored: str, recipient: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        path.write_bytes(stored.encode("utf-8"))
        log.info("Mail written to %s (no SMTP host configured)", path)

    @contextmanager
    def session(self, *, keep: bool = False) -> Iterator[Callable[[str, str], None]]:
        yield self.send


def _stored(message: EmailMessage) -> str:
    """The message as the outbox keeps it: ASCII headers (RFC 2047), or UTF-8 headers when an
    address has a non-ASCII local part, which only SMTPUTF8 carries (smtplib then asks the
    server for it, and a server without it is recorded as a failed attempt)."""
    international = any(not a.username.isascii() for a in message["To"].addresses)
    return message.as_string(policy=_SMTPUTF8_POLICY if international else _POLICY)


def _stored_recipient(recipient: str) -> str:
    """The address to deliver to. The outbox keeps the bare address; rows written before it
    did kept the whole ``"name" <address>`` header, whose address is the final ``<...>``
    (the name was quoted, so it cannot end the value)."""
    if recipient.endswith(">") and "<" in recipient:
        return recipient[recipient.rindex("<") + 1 : -1]
    return recipient


def _one_line(text: str) -> str:
    """``text`` fit for a header: every line break Python knows (U+2028, U+0085, ...) is a
    space, as a header value may not hold one."""
    return " ".join(text.splitlines())


def _ascii_domain(address: str) -> str:
    """``address`` with its domain in IDNA (``exämple.org`` → ``xn--exmple-cua.org``), which
    every mail server accepts; a non-ASCII local part stays (it needs SMTPUTF8)."""
    local, _, domain = address.rpartition("@")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return address


def transport_for(settings: MailSettings) -> Transport:
    if settings.host:
        return SmtpTransport(settings)
    return FileTransport(settings.outbox_dir)


def award_message(
    *,
    sender: str,
    recipient: str,
    recipient_name: str,
    achievement_name: str,
    issuer_name: str,
    page_url: str,
    settings_url: str,
) -> EmailMessage:
    """The award e-mail: plain text, and the same in HTML, with the page and settings links."""
    text, html = _award_bodies(
        recipient_name=recipient_name,
        achievement_name=achievement_name,
        issuer_name=issuer_name,
        page_url=page_url,
        settings_url=settings_url,
    )
    message = EmailMessage(policy=_POLICY)
    message.set_raw("Subject", _subject(achievement_name))
    message["From"] = sender
    message.set_raw("To", _to_header(recipient, recipient_name))
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = _message_id(sender)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def stored_award_message(
    *,
    sender: str,
    recipient: str,
    recipient_name: str,
    achievement_name: str,
    issuer_name: str,
    page_url: str,
    settings_url: str,
) -> str:
    """``award_message`` as the outbox stores it, written as the ``email.mime`` classes write
    it when the recipient's address is ASCII: the same headers and parts (the delivery reads
    it with the same policy), in a small part of the time, as the header registry of
    ``EmailMessage`` parses and folds each header again. An address only SMTPUTF8 carries
    takes ``award_message``.
    """
    address = _ascii_domain(recipient)
    if not address.isascii() or not sender.isascii():
        return _stored(
            award_message(
                sender=sender,
                recipient=recipient,
                recipient_name=recipient_name,
                achievement_name=achievement_name,
                issuer_name=issuer_name,
                page_url=page_url,
                settings_url=settings_url,
            )
        )
    text, html = _award_bodies(
        recipient_name=recipient_name,
        achievement_name=achievement_name,
        issuer_name=issuer_name,
        page_url=page_url,
        settings_url=settings_url,
    )
    # What MIMEMultipart and MIMENonMultipart write, written directly: their generator
    # would cost more than the rest of the award's e-mail. The boundary cannot occur in a
    # quoted-printable body, which writes every "=" as "=3D".
    boundary = f"==============={secrets.randbelow(10**19):019d}=="
    parts = "".join(
        f"--{boundary}\n"
        f'Content-Type: text/{subtype}; charset="utf-8"\n'
        "MIME-Version: 1.0\n"
        "Content-Transfer-Encoding: quoted-printable\n\n"
        f"{_UTF8_QP.body_encode(body)}\n"
        for body, subtype in ((text, "plain"), (html, "html"))
    )
    return (
        f'Content-Type: multipart/alternative; boundary="{boundary}"\n'
        "MIME-Version: 1.0\n"
        f"Subject: {_subject(achievement_name)}\n"
        f"From: {sender}\n"
        f"To: {_to_header(recipient, recipient_name)}\n"
        f"Date: {formatdate(localtime=False)}\n"
        f"Message-ID: {_message_id(sender)}\n\n"
        f"{parts}--{boundary}--\n"
    )


@functools.lru_cache(maxsize=256)
def _subject(achievement_name: str) -> str:
    """The Subject header's value, encoded words where it is not ASCII. Written as is: the
    header registry's folding can drop a space that falls between two encoded words."""
    subject = f"Your badge: {_one_line(achievement_name)}"
    return subject if subject.isascii() else Header(subject, "utf-8").encode()


def _to_header(recipient: str, recipient_name: str) -> str:
    address = _ascii_domain(recipient)
    name = _one_line(recipient_name)
    # Written as is (set_raw): not formataddr, which refuses a non-ASCII local part, nor the
    # header registry, whose folding of a long name can drop its quotes.
    encoded = Header(name, "utf-8", header_name="To").encode(linesep="\n") if name else ""
    return f"{encoded}\n <{address}>" if name else address


def _message_id(sender: str) -> str:
    sender_domain = sender.rpartition("@")[2].rstrip(">") or "localhost"
    return make_msgid(domain=sender_domain)


def _award_bodies(
    *,
    recipient_name: str,
    achievement_name: str,
    issuer_name: str,
    page_url: str,
    settings_url: str,
) -> tuple[str, str]:
    greeting = f"Dear {recipient_name}," if recipient_name else "Hello,"
    text = (
        f"{greeting}\n\n"
        f"{issuer_name} has awarded you the badge \u201c{achievement_name}\u201d.\n\n"
        f"Your badge page (share this link; anyone with it can check the badge):\n{page_url}\n\n"
        "From the page you can download the signed credential and the badge image, or add it "
        "to LinkedIn.\n\n"
        "The page is public to anyone who has the link, and search engines are asked not to "
        "list it. To put the badge in your digital wallet (one scan), or to hide the page or "
        f"show it again, use your private settings link (keep it to yourself):\n{settings_url}\n\n"
        f"\u2014 {issuer_name}\n"
    )
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(achievement_name)}</title></head>
<body style="font-family: system-ui, sans-serif; color: #1b1f24; line-height: 1.5;">
<p>{escape(greeting)}</p>
<p>{escape(issuer_name)} has awarded you the badge <strong>{escape(achievement_name)}</strong>.</p>
<p><a href="{escape(page_url)}" style="color: #0b5cad;">Open your badge page</a>
to share it, download the signed credential and the badge image, or add it to LinkedIn.
Anyone with the link can check that the badge is genuine.</p>
<p>The page is public to anyone who has the link, and search engines are asked not to list it.
Your <a href="{escape(settings_url)}" style="color: #0b5cad;">private settings link</a>
(keep it to yourself) puts the badge in your digital wallet with one scan, and hides the page
or shows it again.</p>
<p>&mdash; {escape(issuer_name)}</p>
</body></html>
"""
    return text, html


class Outbox:
    """The ``outgoing_mail`` table and its delivery, with retries.

    ``background`` delivery runs in one daemon thread per process: ``start`` begins it when
    the service starts (so a backlog left by a restart goes out without a request), and it
    is woken by each new message and every ``WORKER_POLL_SECONDS`` for retries; without it
    (tests), ``wake`` delivers at once in the caller's thread. A pass claims a batch of due
    messages (``_claim_due``: a lease of ``CLAIM_LEASE`` that no other worker takes while it
    runs) and sends them over ``SENDERS`` connections at once, each kept for its share of
    the batch. While batches come back full the worker goes straight on to the next one.

    Each message is delivered at most once, and each attempt is counted once, whichever
    worker makes it: just before a message is handed to the server, one transaction (which
    also records the outcome of the message before it) counts the attempt and marks the
    message *sending* (no next attempt, a lease of its own), guarded by the batch's lease,
    so a worker that lost its lease sends nothing. A worker that dies during the send
    leaves the message sending: whether the server took it is then unknown (SMTP cannot be
    asked afterwards), so once its lease has run out the next pass marks it uncertain, is
    not sent again, and logs it as an error with its Message-ID for the operator to check
    (``issuer mail pending`` lists it; a resend from the workspace sends it again). The
    messages of a batch not yet begun keep no mark: their lease runs out and they are
    delivered as usual. A server that cannot be reached at all (twice in a row on one
    connection) leaves the rest of that connection's share for later, not counted as tried.
    """

    def __init__(
        self,
        db: Database,
        transport: Transport,
        *,
        background: bool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._db = db
        self.transport = transport
        self._background = background
        self._clock = clock
        self._wakeup = threading.Event()
        self._stopped = threading.Event()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        self._stops_at_exit = False
        self._settled_at: float | None = None

    def add(
        self,
        session: Session,
        message: EmailMessage,
        *,
        recipient: str,
        kind: str,
        credential_id: str,
    ) -> None:
        """Store ``message`` for delivery to ``recipient`` (the address, never a header)
        within ``session``: it commits, and is sent, only with the change that caused it.
        Call ``wake`` after the commit."""
        self.add_stored(
            session, _stored(message), recipient=recipient, kind=kind, credential_id=credential_id
        )

    def add_stored(
        self, session: Session, stored: str, *, recipient: str, kind: str, credential_id: str
    ) -> None:
        """``add`` for a message already in the outbox's form (``MailService.render_award``)."""
        self.add_stored_many(session, kind, [(credential_id, recipient, stored)])

    def add_stored_many(
        self, session: Session, kind: str, messages: Sequence[tuple[str, str, str]]
    ) -> None:
        """``add_stored`` for each (credential id, recipient, stored message) of
        ``messages``, in one statement (a bulk batch's e-mails)."""
        if not messages:
            return
        now = self._clock()
        session.connection().execute(
            _ADD_MESSAGE,
            [
                {
                    "credential_id": credential_id,
                    "kind": kind,
                    "recipient": recipient,
                    "message": stored,
                    "created_at": now,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
                for credential_id, recipient, stored in messages
            ],
        )

    def requeue(self, stored: str, *, recipient: str, kind: str, credential_id: str) -> None:
        """Send ``stored`` (a message in the outbox's form) again to ``recipient``: the
        (credential, kind) entry is reset to go out now.

        Raises the database's error when the outbox cannot be written.
        """
        now = self._clock()
        with self._db.write() as session:
            queued = session.scalar(
                select(OutgoingMail).where(
                    OutgoingMail.credential_id == credential_id, OutgoingMail.kind == kind
                )
            )
            if queued is None:
                queued = OutgoingMail(credential_id=credential_id, kind=kind, created_at=now)
                session.add(queued)
            queued.recipient = recipient
            queued.message = stored
            queued.attempts = 0
            queued.next_attempt_at = now
            queued.claimed_until = None
            queued.sent_at = None

    def deliver_in_foreground(self) -> None:
        """Make ``wake`` deliver in the caller's thread: a short-lived process (a CLI
        command) must not leave a message half-sent by a thread that dies with it."""
        self._background = False

    def start(self) -> None:
        """Start the delivery thread now, in a process that serves (see
        ``issuer.start_background_work``): what is due, a backlog left by a restart
        included, goes out without waiting for a new message. At exit the thread is
        stopped between two messages, so that none is cut off mid-send. Does nothing
        without background delivery."""
        if not self._background:
            return
        self._start_worker()
        if not self._stops_at_exit:
            self._stops_at_exit = True
            atexit.register(self.stop)
        log.info("Mail delivery running in process %d", os.getpid())

    def wake(self) -> None:
        """Deliver what is due: now, or soon in the worker thread. Never raises."""
        if not self._background:
            self._deliver_quietly()
            return
        self._start_worker()
        self._wakeup.set()

    def _start_worker(self) -> None:
        with self._worker_lock:
            if self._worker is None or not self._worker.is_alive():
                self._stopped.clear()
                self._worker = threading.Thread(
                    target=self._run, name="issuer-mail-outbox", daemon=True
                )
                self._worker.start()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop the delivery thread after the message each connection is sending (waiting
        up to ``timeout`` seconds for it), and close the kept connections."""
        self._stopped.set()
        self._wakeup.set()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)
        self._close_transport()

    def _close_transport(self) -> None:
        close = getattr(self.transport, "close", None)
        if close is not None:
            close()

    def deliver_due(self, now: datetime | None = None, *, limit: int = DELIVERY_BATCH) -> int:
        """Try up to ``limit`` messages whose time has come; return how many were sent.

        Raises the database's error when the outbox cannot be read or written.
        """
        return self._deliver_batch(now or self._clock(), limit)[1]

    def pending(self) -> list[OutgoingMail]:
        """Messages not yet sent (still to be tried, being sent, given up or uncertain),
        oldest first."""
        with self._db.read() as session:
            return list(
                session.scalars(
                    select(OutgoingMail)
                    .where(OutgoingMail.sent_at.is_(None))
                    .order_by(OutgoingMail.id)
                ).all()
            )

    def _deliver_batch(self, now: datetime, limit: int, *, keep: bool = False) -> tuple[int, int]:
        """Claim up to ``limit`` due messages in one transaction and send them over up to
        ``SENDERS`` connections at once; return (claimed, sent). With ``keep`` (the delivery
        thread) the connections stay open for the next batch."""
        claimed = self._claim_due(now, limit)
        if not claimed:
            return 0, 0
        groups = [claimed[number::SENDERS] for number in range(min(SENDERS, len(claimed)))]
        if len(groups) == 1:
            return len(claimed), self._send_group(groups[0], now, keep)
        futures = []
        with ThreadPoolExecutor(len(groups), thread_name_prefix="issuer-mail-send") as pool:
            for group in groups:
                try:
                    futures.append(pool.submit(self._send_group, group, now, keep))
                except RuntimeError:
                    # The interpreter is exiting and starts no more threads: the group is
                    # let go at once (due again for any worker), not held for its lease.
                    self._end_group(None, [], "", group, now)
            return len(claimed), sum(future.result() for future in futures)

    def _claim_due(self, now: datetime, limit: int) -> list[_Claimed]:
        """Take up to ``limit`` due messages for this worker: the one ``UPDATE`` moves their
        lease forward only where no other worker holds it, and ``RETURNING`` says which
        rows it moved, so a message is claimed by one worker at a time. The lease's end
        is the claim's token: only its holder may begin a message (``_begin_attempt``)."""
        lease = now + CLAIM_LEASE
        with self._db.write() as session:
            self._settle_interrupted(session, now)
            connection = session.connection()
            ids = list(connection.execute(_DUE, {"now": now, "limit": limit}).scalars())
            if not ids:
                return []
            rows = connection.execute(_CLAIM, {"ids": ids, "now": now, "lease": lease}).all()
        claimed = [
            _Claimed(row.id, row.kind, row.recipient, row.message, row.attempts, lease)
            for row in rows
        ]
        order = {mail_id: position for position, mail_id in enumerate(ids)}
        return sorted(claimed, key=lambda mail: order[mail.id])

    def _settle_interrupted(self, session: Session, now: datetime) -> None:
        """Mark uncertain, and log, every message whose worker stopped while sending it
        (still sending, its lease run out): the server may hold it, so it is not sent
        again. Looked for at most every ``SETTLE_SECONDS`` (it reads the whole outbox)."""
        if self._settled_at is not None and time.monotonic() - self._settled_at < SETTLE_SECONDS:
            return
        self._settled_at = time.monotonic()
        rows = session.execute(
            update(OutgoingMail)
            .where(
                OutgoingMail.sent_at.is_(None),
                OutgoingMail.next_attempt_at.is_(None),
                OutgoingMail.claimed_until.is_not(None),
                OutgoingMail.claimed_until < now,
            )
            .values(claimed_until=None, last_error=UNCERTAIN)
            .returning(OutgoingMail.id, OutgoingMail.kind, OutgoingMail.message)
        ).all()
        for row in rows:
            log.error(
                "Mail %s (%s) may or may not have been delivered: the process sending it "
                "stopped mid-send. It is not sent again; look for Message-ID %s in the mail "
                "server's log, and resend it from the workspace if it did not arrive.",
                row.id,
                row.kind,
                _header(row.message, "Message-ID"),
            )

    def _send_group(self, group: list[_Claimed], now: datetime, keep: bool) -> int:
        """Send ``group`` in order over one session, each message begun and its outcome
        recorded as the class says; return how many were sent. Outcomes are dated ``now``,
        when the pass began, as the pauses before retries are counted from it."""
        sent = 0
        broken = 0
        unreachable = ""
        last: tuple[_Attempt, str | None] | None = None
        later: list[_Claimed] = []
        released: list[_Claimed] = []
        try:
            with self.transport.session(keep=keep) as send:
                for position, mail in enumerate(group):
                    if self._stopped.is_set():
                        released = group[position:]
                        break
                    if broken >= 2:
                        # The server is unreachable: the rest wait for their next attempt
                        # rather than each waiting out a connection timeout now.
                        later = group[position:]
                        break
                    attempt = self._begin_attempt(mail, last, now)
                    last = None
                    if attempt is None:
                        continue  # another worker holds it now, or it was requeued
                    error: str | None = None
                    try:
                        send(mail.message, _stored_recipient(mail.recipient))
                    except _REFUSALS as refused:
                        broken = 0
                        error = f"{type(refused).__name__}: {refused}"
                    except (OSError, smtplib.SMTPException) as failure:
                        # Every smtplib error is an OSError; what is left are connection
                        # failures (refused, dropped, timed out, no greeting).
                        broken += 1
                        error = unreachable = f"{type(failure).__name__}: {failure}"
                    except ValueError as unencodable:
                        broken = 0
                        error = f"{type(unencodable).__name__}: {unencodable}"
                    else:
                        broken = 0
                        sent += 1
                    last = (attempt, error)
        except (OSError, smtplib.SMTPException) as error:
            # Closing the session failed after the messages went: what was sent stays sent.
            log.warning("Mail session did not close cleanly: %s", error)
        finally:
            self._end_group(last, later, unreachable, released, now)
        return sent

    def _begin_attempt(
        self, mail: _Claimed, last: tuple[_Attempt, str | None] | None, now: datetime
    ) -> _Attempt | None:
        """In one transaction: record ``last`` (the outcome of the message sent before on
        this connection), then count an attempt of ``mail`` and mark it sending, if this
        worker still holds its lease; None when it does not (nothing is to be sent). The
        attempt's lease runs from the clock, not from the pass (which may be long begun).
        The transaction is shared with the awards being stored meanwhile (a group commit)."""
        lease = max(now, self._clock()) + CLAIM_LEASE

        def begin(session: Session) -> int | None:
            if last is not None:
                self._record(session, *last, now)
            attempts: int | None = (
                session.connection()
                .execute(_BEGIN_ATTEMPT, {"mail_id": mail.id, "held": mail.lease, "lease": lease})
                .scalar()
            )
            return attempts

        attempts = self._db.write_grouped(begin)
        if last is not None:
            self._report(*last, now)
        return None if attempts is None else _Attempt(mail, attempts, lease)

    def _end_group(
        self,
        last: tuple[_Attempt, str | None] | None,
        later: list[_Claimed],
        unreachable: str,
        released: list[_Claimed],
        now: datetime,
    ) -> None:
        """In one transaction: the outcome of the group's last message; the messages left
        for later because the server is unreachable (their next attempt, not counted as
        tried); the messages let go because the worker stops (due again for any worker)."""
        if last is None and not later and not released:
            return
        with self._db.write() as session:
            if last is not None:
                self._record(session, *last, now)
            for mail in later:
                next_attempt = now + _retry_pause(max(mail.attempts, 1))
                session.execute(
                    update(OutgoingMail)
                    .where(OutgoingMail.id == mail.id, OutgoingMail.claimed_until == mail.lease)
                    .values(
                        next_attempt_at=next_attempt,
                        claimed_until=None,
                        last_error=f"Not tried: {unreachable}"[:2000],
                    )
                )
            for mail in released:
                session.execute(
                    update(OutgoingMail)
                    .where(OutgoingMail.id == mail.id, OutgoingMail.claimed_until == mail.lease)
                    .values(claimed_until=None)
                )
        if last is not None:
            self._report(*last, now)

    @staticmethod
    def _record(session: Session, attempt: _Attempt, error: str | None, now: datetime) -> None:
        """One attempt's outcome: sent, or its next attempt (none after ``MAX_ATTEMPTS``).
        Guarded by the attempt's lease: a message requeued meanwhile is left as it is.
        Logged by ``_report`` once committed."""
        held = {"mail_id": attempt.mail.id, "held": attempt.lease}
        if error is None:
            session.connection().execute(_SENT, {**held, "sent": now})
            return
        next_attempt = _next_attempt(attempt.attempts, now)
        session.connection().execute(
            _NOT_SENT, {**held, "next_attempt": next_attempt, "error": error[:2000]}
        )

    @staticmethod
    def _report(attempt: _Attempt, error: str | None, now: datetime) -> None:
        """Log an outcome ``_record`` stored."""
        mail = attempt.mail
        if error is None:
            log.info("Mail %s (%s) sent", mail.id, mail.kind)
            return
        next_attempt = _next_attempt(attempt.attempts, now)
        if next_attempt is None:
            log.error(
                "Mail %s (%s) given up after %d attempts: %s",
                mail.id,
                mail.kind,
                attempt.attempts,
                error,
            )
            return
        log.warning(
            "Mail %s (%s) not sent (attempt %d), retrying at %s: %s",
            mail.id,
            mail.kind,
            attempt.attempts,
            next_attempt.isoformat(),
            error,
        )

    def _deliver_quietly(self) -> bool:
        """One batch; whether it was full (more may be due). Never raises."""
        try:
            claimed, _sent = self._deliver_batch(
                self._clock(), DELIVERY_BATCH, keep=self._background
            )
        except Exception:
            # The outbox keeps the message; the next pass tries again.
            log.exception("Mail delivery pass failed")
            return False
        return claimed == DELIVERY_BATCH

    def _run(self) -> None:
        # Batch after batch while the outbox has more due than a batch holds (a burst of
        # awards); then sleep until woken by a new message, or the poll for retries. Once
        # woken, the messages of the next GATHER_SECONDS go in the same batch: under a
        # stream of awards, one claim (a commit) serves many messages instead of one each.
        while not self._stopped.is_set():
            self._wakeup.clear()
            if self._deliver_quietly():
                continue
            if self._wakeup.wait(WORKER_POLL_SECONDS):
                self._stopped.wait(GATHER_SECONDS)
        self._close_transport()


# The statements every message runs, built once and their values bound when they run. Each
# after the claim is guarded by the lease the worker holds on the message (``held``).
_ADD_MESSAGE = insert(OutgoingMail)
_UNCLAIMED = (
    OutgoingMail.sent_at.is_(None),
    OutgoingMail.next_attempt_at.is_not(None),
    or_(OutgoingMail.claimed_until.is_(None), OutgoingMail.claimed_until < bindparam("now")),
)
_DUE = (
    select(OutgoingMail.id)
    .where(*_UNCLAIMED, OutgoingMail.next_attempt_at <= bindparam("now"))
    .order_by(OutgoingMail.next_attempt_at)
    .limit(bindparam("limit", type_=Integer))
)
_CLAIM = (
    update(OutgoingMail)
    .where(OutgoingMail.id.in_(bindparam("ids", expanding=True)), *_UNCLAIMED)
    .values(claimed_until=bindparam("lease"))
    .returning(
        OutgoingMail.id,
        OutgoingMail.kind,
        OutgoingMail.recipient,
        OutgoingMail.message,
        OutgoingMail.attempts,
    )
)
_HELD = (OutgoingMail.id == bindparam("mail_id"), OutgoingMail.claimed_until == bindparam("held"))
_BEGIN_ATTEMPT = (
    update(OutgoingMail)
    .where(*_HELD, OutgoingMail.sent_at.is_(None), OutgoingMail.next_attempt_at.is_not(None))
    .values(
        attempts=OutgoingMail.attempts + 1, next_attempt_at=None, claimed_until=bindparam("lease")
    )
    .returning(OutgoingMail.attempts)
)
_SENT = (
    update(OutgoingMail)
    .where(*_HELD)
    .values(sent_at=bindparam("sent"), claimed_until=None, last_error=None)
)
_NOT_SENT = (
    update(OutgoingMail)
    .where(*_HELD)
    .values(
        next_attempt_at=bindparam("next_attempt"), claimed_until=None, last_error=bindparam("error")
    )
)


def _next_attempt(attempts: int, now: datetime) -> datetime | None:
    """When a message that failed its ``attempts``-th attempt ``now`` is tried again; None
    once it has had ``MAX_ATTEMPTS``."""
    return None if attempts >= MAX_ATTEMPTS else now + _retry_pause(attempts)


def _retry_pause(attempts: int) -> timedelta:
    """The pause after the ``attempts``-th failed attempt (the last pause repeats)."""
    return RETRY_PAUSES[min(attempts, len(RETRY_PAUSES)) - 1]


def _header(stored: str, name: str) -> str:
    """The value of header ``name`` of a stored message ("?" when it has none)."""
    head = stored.split("\n\n", 1)[0]
    value = message_from_string(head + "\n\n", policy=_POLICY)[name]
    return str(value) if value else "?"


class MailService:
    """Mails the earner after an award. ``page_url`` and ``settings_url`` make the links."""

    def __init__(
        self,
        outbox: Outbox,
        settings: MailSettings,
        *,
        issuer_name: str,
        page_url: Callable[[str], str],
        settings_url: Callable[[str], str],
    ):
        self.outbox = outbox
        self.settings = settings
        self._issuer_name = issuer_name
        self._page_url = page_url
        self._settings_url = settings_url

    def render_award(self, issued: IssuedAward, recipient_email: str) -> str:
        """The award e-mail for ``issued`` in the outbox's form; no database work, so that it
        is rendered before the award's transaction, or in a signing process beside the
        signatures (``queue_rendered_award``)."""
        achievement = issued.credential["credentialSubject"]["achievement"]
        return stored_award_message(
            sender=self.settings.sender,
            recipient=recipient_email,
            recipient_name=issued.recipient_name,
            achievement_name=str(achievement.get("name") or issued.achievement),
            issuer_name=self._issuer_name,
            page_url=self._page_url(issued.id),
            settings_url=self._settings_url(issued.id),
        )

    def queue_rendered_award(
        self, session: Session, credential_id: str, recipient_email: str, rendered: str
    ) -> None:
        """Put the award e-mail ``rendered`` in the outbox within the award's transaction, so
        that a stored award always has its e-mail queued; ``wake`` once it commits."""
        self.queue_rendered_awards(session, [(credential_id, recipient_email, rendered)])

    def queue_rendered_awards(
        self, session: Session, awards: Sequence[tuple[str, str, str]]
    ) -> None:
        """``queue_rendered_award`` for each (credential id, recipient e-mail, rendered) of
        ``awards``, in one statement."""
        self.outbox.add_stored_many(
            session,
            AWARD_NOTICE,
            [
                (credential_id, _ascii_domain(recipient_email), rendered)
                for credential_id, recipient_email, rendered in awards
            ],
        )

    def wake(self) -> None:
        """Deliver what is due (see ``Outbox.wake``). Never raises."""
        self.outbox.wake()

    def resend_award(self, issued: IssuedAward, recipient_email: str) -> None:
        """Send the award e-mail for ``issued`` again, now (an assessor asked for it).

        Raises the database's error when the outbox cannot be written, so the assessor is
        told it did not work.
        """
        self.outbox.requeue(
            self.render_award(issued, recipient_email),
            recipient=_ascii_domain(recipient_email),
            kind=AWARD_NOTICE,
            credential_id=issued.id,
        )
        self.outbox.wake()
