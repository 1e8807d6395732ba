"""Work runs by itself: a serving process delivers the outbox and resumes bulk jobs when it
starts, without a request; each message goes out at most once, even when the process
sending it is killed mid-send; each attempt is counted once, whichever worker makes it.

The services run as real processes (gunicorn with gunicorn.conf.py, with and without
``--preload``, or ``issuer run``) on the test's database, mailing a real SMTP server on
loopback; no request is ever made to them. Nothing is timed: deadlines only bound how long
a broken service is waited for.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from assess_helpers import ACHIEVEMENT, Account, make_account
from flask import Flask
from sqlalchemy import func, select, update
from support import ROOT, free_port, smtp_server, tcp_server

from issuer import bulk
from issuer.mail import AWARD_NOTICE, DELIVERY_BATCH, UNCERTAIN, MailSettings, Outbox, SmtpTransport
from issuer.storage.models import (
    BulkJob,
    BulkJobRow,
    IdempotencyKey,
    IssuedCredential,
    OutgoingMail,
)

pytestmark = pytest.mark.storage

DEADLINE_SECONDS = 240
BIN = Path(sys.executable).parent
SERVERS = {
    "gunicorn": [str(BIN / "gunicorn"), "wsgi:app"],
    "gunicorn --preload": [str(BIN / "gunicorn"), "--preload", "wsgi:app"],
    "issuer run": [str(BIN / "issuer"), "run"],
}


def wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def message(number: int, recipient: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "badges@example.test"
    mail["To"] = recipient
    mail["Subject"] = f"Message {number}"
    mail["Message-ID"] = f"<message-{number}@example.test>"
    mail.set_content(f"Message number {number}.")
    return mail


def queue(app: Flask, recipients: list[str]) -> None:
    """Messages ``message-0`` ... in the outbox, due now, in this order."""
    outbox = app.extensions["issuer"].mail.outbox
    for number, recipient in enumerate(recipients):
        with app.extensions["issuer"].db.write() as session:
            outbox.add(
                session,
                message(number, recipient),
                recipient=recipient,
                kind=AWARD_NOTICE,
                credential_id=None,  # type: ignore[arg-type]
            )


def message_ids(received: list[bytes]) -> collections.Counter[str]:
    return collections.Counter(
        line.split(b":", 1)[1].strip().decode()
        for raw in received
        for line in raw.split(b"\r\n")
        if line.lower().startswith(b"message-id:")
    )


def outbox_rows(app: Flask) -> dict[str, OutgoingMail]:
    with app.extensions["issuer"].db.read() as session:
        return {row.recipient: row for row in session.scalars(select(OutgoingMail)).all()}


@contextmanager
def serving(
    app: Flask, tmp_path: Path, server: str, *, smtp_port: int | None = None, workers: int = 2
) -> Iterator[Path]:
    """The service of ``app``'s configuration served by ``server`` in its own process group
    while the block runs (SIGTERM at the end, if the block has not killed it); yields the
    file its log goes to."""
    names = ("ENV", "BASE_URL", "DATABASE_URL", "KEYS_DIR", "KEY_PASSPHRASE", "SECRET_KEY")
    names += ("TEMPLATES_DIR", "OUTBOX_DIR", "STATUS_ARCHIVE_DIR")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ISSUER_")}
    environment.update({f"ISSUER_{name}": str(app.config[name]) for name in names})
    if smtp_port is not None:
        environment.update(
            ISSUER_SMTP_HOST="127.0.0.1",
            ISSUER_SMTP_PORT=str(smtp_port),
            ISSUER_SMTP_STARTTLS="false",
            ISSUER_SMTP_FROM="Badges <badges@example.test>",
        )
    port = free_port()
    environment.update(
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS=str(workers),
        GUNICORN_ACCESSLOG="-",
        FLASK_RUN_PORT=str(port),
    )
    log = tmp_path / f"{server.replace(' ', '-')}-{time.monotonic_ns()}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own programs, no shell
            SERVERS[server],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


def kill(log: Path) -> None:
    """SIGKILL the service whose log is ``log``, with every process of its group."""
    pid = int(re.findall(r"process (\d+)", log.read_text())[0])
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    wait_for(lambda: not _alive(pid), "the killed service to die")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")


def delivery_pids(log: Path) -> set[int]:
    return {
        int(pid) for pid in re.findall(r"Mail delivery running in process (\d+)", log.read_text())
    }


def gunicorn_workers(log: Path) -> set[int]:
    return {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", log.read_text())}


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_a_backlog_is_delivered_when_the_service_starts_without_a_request(
    app: Flask, tmp_path: Path, smtp_port: int, server: str
) -> None:
    """A burst of more than two batches waits in the outbox of a stopped service. Started
    again, every worker starts delivering by itself (a thread started before the fork, as
    in the arbiter with --preload, would not exist in the workers), and every message
    arrives once."""
    burst = 2 * DELIVERY_BATCH + 17
    queue(app, [f"earner{number}@example.org" for number in range(burst)])
    with (
        smtp_server(smtp_port) as received,
        serving(app, tmp_path, server, smtp_port=smtp_port) as log,
    ):
        wait_for(lambda: len(received) >= burst, "the backlog to arrive")
        wait_for(lambda: not app.extensions["issuer"].mail.outbox.pending(), "it to be recorded")
        if server.startswith("gunicorn"):
            wait_for(lambda: len(gunicorn_workers(log)) == 2, "both workers to boot")
            wait_for(lambda: gunicorn_workers(log) <= delivery_pids(log), "every worker to deliver")
            # Each worker's bulk-job runner has a name of its own (leases tell them apart).
            runners = dict(re.findall(r"looked for by (\S+) in process (\d+)", log.read_text()))
            assert len(runners) == len(set(runners.values())) >= 2
    assert message_ids(received) == {f"<message-{n}@example.test>": 1 for n in range(burst)}


class _Refusing(socketserver.StreamRequestHandler):
    """An SMTP server that refuses every recipient for now (451), or, with ``drop``, closes
    every connection at once; it counts what it was asked."""

    def handle(self) -> None:
        asked = self.server.asked  # type: ignore[attr-defined]
        asked["connections"] += 1
        if self.server.drop:  # type: ignore[attr-defined]
            return
        self.wfile.write(b"220 test SMTP\r\n")
        while line := self.rfile.readline():
            command = line.strip().upper()
            if command.startswith(b"RCPT TO:"):
                asked[line.strip()[len(b"RCPT TO:") :].strip(b"<> ").decode()] += 1
                self.wfile.write(b"451 try again later\r\n")
            elif command == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@contextmanager
def refusing_server(port: int, *, drop: bool) -> Iterator[collections.Counter[str]]:
    with tcp_server(port, _Refusing, asked=collections.Counter(), drop=drop) as server:
        yield server.asked  # type: ignore[attr-defined]


@pytest.mark.parametrize("drop", [False, True], ids=["refuses-recipients", "drops-connections"])
def test_two_workers_count_each_attempt_once(smtp_app: Flask, smtp_port: int, drop: bool) -> None:
    """Two outboxes on one database race for 20 due messages, round after round (their
    clock moves on past every pause between rounds), against a server that refuses each
    message or cannot be talked to at all. A message's attempts are the times it was put to
    the server: never one it did not have (another message's refusal, a connection that
    failed before it), never two for one, whichever worker made it."""
    services = smtp_app.extensions["issuer"]
    settings = MailSettings.from_config(smtp_app.config)
    recipients = [f"earner{number}@example.org" for number in range(20)]
    queue(smtp_app, recipients)
    clock = [datetime.now(UTC)]
    workers = [
        Outbox(services.db, SmtpTransport(settings), background=False, clock=lambda: clock[0])
        for _ in range(2)
    ]
    rounds = 3
    with refusing_server(smtp_port, drop=drop) as asked:
        for _ in range(rounds):
            start = threading.Barrier(len(workers))

            threads = [
                threading.Thread(target=_deliver_repeatedly, args=(outbox, start))
                for outbox in workers
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(DEADLINE_SECONDS)
            clock[0] += timedelta(days=1)
    rows = outbox_rows(smtp_app)
    if drop:
        # Each connection was one message's attempt; the others of its share wait, untried.
        assert sum(row.attempts for row in rows.values()) == asked["connections"]
        assert all(row.last_error for row in rows.values())
    else:
        assert {r: row.attempts for r, row in rows.items()} == {r: rounds for r in recipients}
        assert {r: asked[r] for r in recipients} == {r: rounds for r in recipients}
        assert all(recipient in row.last_error for recipient, row in rows.items())
    assert all(row.next_attempt_at and not row.sent_at for row in rows.values())


def _deliver_repeatedly(outbox: Outbox, start: threading.Barrier) -> None:
    start.wait()
    for _ in range(5):
        outbox.deliver_due()


class _Holding(socketserver.StreamRequestHandler):
    """An SMTP server that takes every message; for ``held@example.org`` it keeps the
    message (it has it, as a server that got the final dot has) and then holds its answer
    until ``release`` is set."""

    def handle(self) -> None:
        server: Any = self.server
        recipient = b""
        try:
            self.wfile.write(b"220 test SMTP\r\n")
            while line := self.rfile.readline():
                command = line.strip().upper()
                if command.startswith(b"RCPT TO:"):
                    recipient = line.strip()[len(b"RCPT TO:") :].strip(b"<> ")
                    self.wfile.write(b"250 ok\r\n")
                elif command == b"DATA":
                    self.wfile.write(b"354 go on\r\n")
                    data = b""
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data += chunk
                    server.received.append(data)
                    if recipient == b"held@example.org":
                        server.holding.set()
                        server.release.wait(DEADLINE_SECONDS)
                    self.wfile.write(b"250 queued\r\n")
                elif command == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")
        except OSError:
            return  # the client is gone (killed)


def test_a_message_whose_sender_is_killed_mid_send_is_not_sent_again(
    app: Flask, tmp_path: Path, smtp_port: int
) -> None:
    """The service is killed (SIGKILL) while the server holds its answer to a message it
    has already received. When the message's lease has run out, the restarted service
    does not send it a second time (SMTP cannot tell whether the first one arrived): it
    marks it uncertain and logs its Message-ID. The message queued behind it on the same
    connection, claimed but never begun, is delivered as usual."""
    # Claimed in this order, over four connections: held and then behind on the first.
    recipients = ["held@example.org", "a@example.org", "b@example.org", "c@example.org"]
    queue(app, [*recipients, "behind@example.org"])
    with tcp_server(
        smtp_port, _Holding, received=[], holding=threading.Event(), release=threading.Event()
    ) as server:
        with serving(app, tmp_path, "gunicorn", smtp_port=smtp_port, workers=1) as log:
            wait_for(server.holding.is_set, "the server to hold the message")  # type: ignore[attr-defined]
            kill(log)
        server.release.set()  # type: ignore[attr-defined]
        # The lease (minutes) runs out.
        with app.extensions["issuer"].db.write() as session:
            session.execute(
                update(OutgoingMail)
                .where(OutgoingMail.claimed_until.is_not(None))
                .values(claimed_until=datetime.now(UTC) - timedelta(seconds=1))
            )
        with serving(app, tmp_path, "gunicorn", smtp_port=smtp_port, workers=1) as log:
            wait_for(lambda: outbox_rows(app)["behind@example.org"].sent_at, "the message behind")
            ids = message_ids(server.received)  # type: ignore[attr-defined]
            assert ids["<message-0@example.test>"] == 1
            assert ids["<message-4@example.test>"] == 1
            assert max(ids.values()) == 1
            wait_for(lambda: "may or may not have been delivered" in log.read_text(), "the log")
            restarted_log = log.read_text()
    held = outbox_rows(app)["held@example.org"]
    assert (held.sent_at, held.next_attempt_at, held.claimed_until) == (None, None, None)
    assert (held.attempts, held.last_error) == (1, UNCERTAIN)
    assert "Message-ID <message-0@example.test>" in restarted_log
    # The others were sent before the kill, or are uncertain too; none was sent twice.
    for recipient in recipients[1:]:
        row = outbox_rows(app)[recipient]
        assert row.sent_at or row.last_error == UNCERTAIN


@pytest.fixture
def assessor(app: Flask) -> Account:
    return make_account(app, "ada@example.org", levels=(ACHIEVEMENT,))


def test_a_bulk_job_killed_mid_way_is_finished_after_a_restart_without_a_request(
    app: Flask, tmp_path: Path, assessor: Account
) -> None:
    """A queued job is taken up by the service as it starts; the service is killed
    (SIGKILL, its signing processes with it) after the first batch is stored. Started
    again, it takes the job over once its lease has run out, with no request, and every
    row is awarded exactly once."""
    service = app.extensions["assess"].bulk
    who = app.extensions["issuer"].assessors.by_id(assessor.id)
    count = bulk.POOL_MIN_ROWS + 2 * bulk.BATCH_SIZE
    rows = "".join(f"E{n},e{n}@example.org,Proficient,,Did it,,\n" for n in range(count))
    header = ",".join(bulk.COLUMNS) + "\n"
    job_id, _ = service.create_job(who, "big.csv", (header + rows).encode(), address="10.0.0.1")
    service.start(who, job_id)

    def issued() -> int:
        with app.extensions["issuer"].db.read() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(BulkJobRow)
                    .where(BulkJobRow.job_id == job_id, BulkJobRow.status == bulk.ISSUED)
                )
                or 0
            )

    with serving(app, tmp_path, "gunicorn", workers=1) as log:
        wait_for(lambda: issued() >= bulk.BATCH_SIZE, "the first batch")
        kill(log)
    assert issued() < count, "the job ended before the kill: make it longer"
    # The lease (a minute) runs out.
    with app.extensions["issuer"].db.write() as session:
        session.execute(
            update(BulkJob)
            .where(BulkJob.id == job_id)
            .values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    with serving(app, tmp_path, "gunicorn", workers=1):
        wait_for(lambda: service.progress(who, job_id).status == bulk.DONE, "the job to end")
    progress = service.progress(who, job_id)
    assert progress.counts == {bulk.ISSUED: count}
    with app.extensions["issuer"].db.read() as session:
        credentials = session.scalar(select(func.count()).select_from(IssuedCredential))
        keys = session.scalar(
            select(func.count(func.distinct(IdempotencyKey.key))).select_from(IdempotencyKey)
        )
        holders = session.execute(
            select(IssuedCredential.recipient_email, func.count())
            .group_by(IssuedCredential.recipient_email)
            .having(func.count() > 1)
        ).all()
        lease = session.scalar(select(BulkJob.lease_until).where(BulkJob.id == job_id))
    assert credentials == keys == count
    assert holders == []
    assert lease is None
