"""Mail that keeps up: a burst of awards, and how soon after it every e-mail is delivered.

A fresh service (SQLite by default, or ``--database-url``) mails through the SMTP stand-in
of ``tests/support.py`` on loopback. ``--count`` awards are made as fast as the domain
service takes them (each queues its e-mail and wakes the delivery thread); then the clock
runs until the server holds every message. The bare operation, timed in the same run:
``smtplib`` sending the same number of stored messages over one connection to the same
server.

    .venv/bin/python bench/mail.py [--count 1000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import smtplib
import sys
import time
from datetime import UTC, datetime
from email import message_from_string
from email.policy import default
from pathlib import Path

from harness import report, start_service
from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support import free_port, smtp_server

from issuer.storage.models import OutgoingMail

ACHIEVEMENT = "computer-user-support-specialists/proficient"
TARGET_SECONDS = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    arguments = parser.parse_args()
    count = arguments.count
    port = free_port()
    bench = start_service(
        "mail",
        database_url=arguments.database_url,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(port),
        SMTP_STARTTLS="false",
        SMTP_FROM="Badges <badges@example.test>",
    )
    services = bench.services
    with smtp_server(port) as received:
        began = time.perf_counter()
        for number in range(count):
            services.award(
                bench.assessor,
                {
                    "achievement": ACHIEVEMENT,
                    "recipient": {"email": f"earner{number}@example.org", "name": f"E {number}"},
                },
                actor=bench.assessor.email,
                address=None,
                details={"via": "bench"},
            )
        burst_end = time.perf_counter()
        at_burst_end = len(received)
        while len(received) < count and time.perf_counter() - burst_end < 300:
            time.sleep(0.01)
        delivered = time.perf_counter()
        all_there = len(received)
        connections = received.connections

        # The outbox alone: every message due again at once (1000 waiting), one wake-up;
        # once it has recorded the last sends (a message it still records would be marked
        # sent again over the reset).
        while services.mail.outbox.pending() and time.perf_counter() - delivered < 300:
            time.sleep(0.01)
        with services.db.write() as session:
            session.execute(
                update(OutgoingMail).values(
                    sent_at=None, next_attempt_at=datetime.now(UTC), attempts=0
                )
            )
        requeued_began = time.perf_counter()
        services.mail.outbox.wake()
        while len(received) < 2 * count and time.perf_counter() - requeued_began < 300:
            time.sleep(0.005)
        requeued = time.perf_counter() - requeued_began

        with services.db.read() as session:
            stored = list(session.scalars(select(OutgoingMail.message).limit(count)).all())
        messages = [message_from_string(text, policy=default) for text in stored]
        bare_began = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for message in messages:
                smtp.send_message(message, to_addrs=["earner@example.org"])  # type: ignore[arg-type]
        bare = time.perf_counter() - bare_began
        services.mail.outbox.stop()  # closes the connections it kept, before the server stops

    after = delivered - burst_end
    print(f"database: {services.db.engine.dialect.name}")
    print(
        f"  {count} awards in {burst_end - began:.1f} s ({count / (burst_end - began):.0f}/s); "
        f"{at_burst_end} e-mails already delivered when the burst ended"
    )
    print(
        f"  all {all_there} delivered {after:.2f} s after the burst (target within "
        f"{TARGET_SECONDS:.0f} s), {delivered - began:.1f} s after it began, over "
        f"{connections} SMTP connections"
    )
    print(
        f"  {count} messages due at once in the outbox: all delivered in {requeued:.2f} s "
        f"({count / requeued:.0f}/s)"
    )
    print(
        f"  bare: smtplib sends {count} stored messages over one connection in {bare:.2f} s "
        f"({count / bare:.0f}/s); the outbox takes {requeued / bare:.2f}x that"
    )
    report(
        f"e-mail: a burst of {count:,} awards delivered",
        f"all {after:.2f} s after the burst",
        f"{count:,} due at once: {requeued / bare:.2f}x bare `smtplib`",
        f"within {TARGET_SECONDS:.0f} s",
    )
    services.db.dispose()


if __name__ == "__main__":
    main()
