"""The outbox keeps up with a burst: delivered continuously, over a few reused SMTP
connections, each message once, by whichever worker claims it.

Messages are queued as an award queues them (``Outbox.add`` in a write transaction) and
delivered to the SMTP stand-in of ``support``. Nothing here is timed; a deadline only
bounds how long a broken outbox is waited for.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from support import smtp_server

from issuer.mail import (
    AWARD_NOTICE,
    DELIVERY_BATCH,
    MAX_ATTEMPTS,
    MailSettings,
    Outbox,
    transport_for,
)

pytestmark = pytest.mark.storage

# More than two batches, so that a worker must go on by itself after the first.
BURST = 2 * DELIVERY_BATCH + 17
DEADLINE_SECONDS = 120


def message(number: int) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "badges@example.test"
    mail["To"] = f"earner{number}@example.org"
    mail["Subject"] = f"Message {number}"
    mail["Message-ID"] = f"<message-{number}@example.test>"
    mail.set_content(f"Message number {number}.")
    return mail


def queue(outbox: Outbox, app: Flask, count: int) -> None:
    with app.extensions["issuer"].db.write() as session:
        for number in range(count):
            outbox.add(
                session,
                message(number),
                recipient=f"earner{number}@example.org",
                kind=AWARD_NOTICE,
                credential_id=None,  # type: ignore[arg-type]
            )


def new_outbox(app: Flask, *, background: bool) -> Outbox:
    services = app.extensions["issuer"]
    settings = MailSettings.from_config(app.config)
    return Outbox(services.db, transport_for(settings), background=background)


def message_ids(received: list[bytes]) -> list[str]:
    return [
        line.split(b":", 1)[1].strip().decode()
        for raw in received
        for line in raw.split(b"\r\n")
        if line.lower().startswith(b"message-id:")
    ]


def wait_for(condition: Any) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the outbox stopped delivering"
        time.sleep(0.05)


def test_a_burst_is_delivered_by_the_worker_alone_over_few_connections(
    smtp_app: Flask, smtp_port: int
) -> None:
    outbox = new_outbox(smtp_app, background=True)
    queue(outbox, smtp_app, BURST)
    with smtp_server(smtp_port) as received:
        outbox.wake()  # once: the worker must go on while batches come back full
        try:
            wait_for(lambda: len(received) >= BURST)
            wait_for(lambda: not outbox.pending())
        finally:
            outbox.stop()
    ids = message_ids(received)
    assert sorted(ids) == sorted(f"<message-{number}@example.test>" for number in range(BURST))
    # Each connection carried many messages (a few senders per batch, not one per message).
    assert received.connections <= 4 * (BURST // DELIVERY_BATCH + 1)


def test_the_stored_message_goes_out_as_it_is_from_its_from_address(
    smtp_app: Flask, smtp_port: int
) -> None:
    # Sent without being parsed and written again: the envelope sender comes from the
    # From header (an encoded display name here), and a line starting with a dot survives.
    mail = message(1)
    mail.replace_header("From", "Bådges Ünïversity <badges@example.test>")
    mail.set_content(".one line that starts with a dot\nand one that does not\n")
    outbox = new_outbox(smtp_app, background=False)
    with smtp_app.extensions["issuer"].db.write() as session:
        outbox.add(
            session,
            mail,
            recipient="earner1@example.org",
            kind=AWARD_NOTICE,
            credential_id=None,  # type: ignore[arg-type]
        )
    (stored,) = [queued.message for queued in outbox.pending()]
    with smtp_server(smtp_port) as received:
        assert outbox.deliver_due() == 1
    assert received.senders == ["badges@example.test"]
    assert received.recipients == ["earner1@example.org"]
    (data,) = received
    unstuffed = b"\r\n".join(
        line[1:] if line.startswith(b"..") else line for line in data.split(b"\r\n")
    )
    assert unstuffed.decode().replace("\r\n", "\n") == stored.rstrip("\n") + "\n"


# Run as a separate interpreter: its delivery pass runs while the interpreter shuts down,
# after concurrent.futures has stopped taking new threads (threading's exit hooks run last
# registered first, so this one, registered before concurrent.futures is imported, runs
# after it).
_DELIVER_AT_EXIT = """
import sys, threading
held = {}
def deliver_at_exit():
    print("sent", held["outbox"].deliver_due(), flush=True)
threading._register_atexit(deliver_at_exit)
from issuer.mail import MailSettings, Outbox, transport_for
from issuer.storage import Database
config = dict(BASE_URL="https://badges.example.test", NAME="Badges", SMTP_HOST="127.0.0.1",
              SMTP_PORT=sys.argv[2], SMTP_STARTTLS="false", OUTBOX_DIR=sys.argv[3])
held["outbox"] = Outbox(Database(sys.argv[1]), transport_for(MailSettings.from_config(config)),
                        background=False)
"""


def test_a_pass_begun_while_the_interpreter_exits_lets_its_messages_go(
    smtp_app: Flask, smtp_port: int, tmp_path: Any
) -> None:
    # Before, the pass claimed a batch, could not start its sending threads and failed: the
    # messages stayed claimed, untouched by any worker, until their lease (5 min) ran out.
    services = smtp_app.extensions["issuer"]
    outbox = new_outbox(smtp_app, background=False)
    queue(outbox, smtp_app, 2 * 4)  # more than one sending connection's share
    finished = subprocess.run(  # noqa: S603 - our own program, no shell
        [sys.executable, "-c", _DELIVER_AT_EXIT, services.db.url, str(smtp_port), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert "sent 0" in finished.stdout, finished.stderr
    assert all(mail.claimed_until is None for mail in outbox.pending())
    with smtp_server(smtp_port) as received:
        assert outbox.deliver_due() == 2 * 4
    assert len(received) == 2 * 4


def test_workers_racing_for_the_outbox_send_each_message_once(
    smtp_app: Flask, smtp_port: int
) -> None:
    workers = [new_outbox(smtp_app, background=False) for _ in range(4)]
    queue(workers[0], smtp_app, BURST)
    sent: list[int] = []
    start = threading.Barrier(len(workers))

    def work(outbox: Outbox) -> None:
        start.wait()
        while True:
            count = outbox.deliver_due()
            sent.append(count)
            if not outbox.pending():
                return
            if count == 0:
                time.sleep(0.01)

    with smtp_server(smtp_port) as received:
        threads = [threading.Thread(target=work, args=(outbox,)) for outbox in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(DEADLINE_SECONDS)
    ids = message_ids(received)
    assert len(ids) == len(set(ids)) == BURST
    assert sum(sent) == BURST


def test_a_message_the_server_cannot_take_waits_for_its_retry_while_the_rest_go(
    smtp_app: Flask, smtp_port: int
) -> None:
    outbox = new_outbox(smtp_app, background=False)
    queue(outbox, smtp_app, 3)
    assert outbox.deliver_due() == 0  # no server yet: every message is tried and kept
    pending = outbox.pending()
    assert len(pending) == 3
    assert all(mail.attempts == 1 and mail.last_error for mail in pending)
    with smtp_server(smtp_port) as received:
        assert outbox.deliver_due() == 0  # not due again yet
        later = pending[0].next_attempt_at
        assert later is not None
        assert outbox.deliver_due(later) == 3
    assert len(received) == 3
    assert outbox.pending() == []


def test_each_outcome_is_logged_once_after_it_is_stored(
    smtp_app: Flask, smtp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = new_outbox(smtp_app, background=False)
    queue(outbox, smtp_app, 1)
    caplog.set_level(logging.INFO, logger="issuer.mail")
    for _ in range(MAX_ATTEMPTS):  # no server: every attempt fails, the last gives up
        (mail,) = outbox.pending()
        assert outbox.deliver_due(mail.next_attempt_at) == 0
    (given_up,) = outbox.pending()
    assert given_up.attempts == MAX_ATTEMPTS and given_up.next_attempt_at is None
    retries = [r for r in caplog.records if "not sent (attempt" in r.getMessage()]
    assert [r.levelno for r in retries] == [logging.WARNING] * (MAX_ATTEMPTS - 1)
    given_up_lines = [
        r for r in caplog.records if f"given up after {MAX_ATTEMPTS}" in r.getMessage()
    ]
    assert [r.levelno for r in given_up_lines] == [logging.ERROR]

    caplog.clear()
    queue(outbox, smtp_app, 1)
    with smtp_server(smtp_port) as received:
        assert outbox.deliver_due() == 1
    assert len(received) == 1
    assert [r.getMessage().endswith(") sent") for r in caplog.records].count(True) == 1
