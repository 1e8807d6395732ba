"""Bulk awards: reading and checking CSV files, the job that issues them, and its pages."""

from __future__ import annotations

import codecs
import csv
import io
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from assess_helpers import ACHIEVEMENT, HTML, Account, issued_count, make_account, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from issuer import bulk
from issuer.errors import InvalidInput
from issuer.storage.models import BulkJob

pytestmark = pytest.mark.storage

HEADER = "name,email,level,statements,evidence_narrative,evidence_url,valid_until\n"
GOOD = (
    "Grace Hopper,grace@example.org,Proficient,,Fixed it,https://example.org/e,2030-12-31\n"
    "Alan Turing,alan@example.org,computer-user-support-specialists/proficient,"
    "1 2 3 4 5 6 7 8 9 10,,,\n"
)
BAD = (
    "No Level,nolevel@example.org,Wizard,,,,\n"
    "Bad Mail,not-an-address,Proficient,,,,\n"
    "Out Of Range,range@example.org,Proficient,1;2;11,,,\n"
    "Too Few,few@example.org,Proficient,1;2,,,\n"
    "Grace Again,GRACE@example.org,Proficient,,,,\n"
    "Old Date,old@example.org,Proficient,,,,2001-01-01\n"
    "Bad Link,link@example.org,Proficient,,,ftp://example.org,\n"
    "Not Mine,notmine@example.org,Emerging,,,,\n"
)


@pytest.fixture
def assessor(app: Flask) -> Account:
    return make_account(app, "ada@example.org", levels=(ACHIEVEMENT,))


def principal(app: Flask, account: Account):  # type: ignore[no-untyped-def]
    return app.extensions["issuer"].assessors.by_id(account.id)


def read(text: str, max_rows: int = 100) -> list[dict[str, str]]:
    return bulk.read_csv(text.encode("utf-8"), max_rows=max_rows, max_bytes=1 << 20)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "csv_empty"),
        (HEADER.encode(), "csv_empty"),
        ("name,email\nA,é@x.org\n".encode("latin-1"), "csv_not_utf8"),
        (b"name,email\nA,a@example.org\n", "csv_columns_missing"),
        (b"name,email,level,colour\nA,a@example.org,Emerging,red\n", "csv_columns_unknown"),
        ((HEADER + 'A,"a@example.org\n').encode(), "csv_malformed"),
        ((HEADER + "A,a@example.org,Emerging,,,,\n" * 4).encode(), "csv_too_many_rows"),
        (b"x" * 2000, "csv_too_large"),
    ],
)
def test_unreadable_files(data: bytes, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        bulk.read_csv(data, max_rows=3, max_bytes=1000)
    assert caught.value.code == code
    assert caught.value.message.endswith(".")


def test_utf8_with_bom_semicolons_and_spreadsheet_headers() -> None:
    data = codecs.BOM_UTF8 + "Name;E-mail;Level\nZoë Ångström;zoe@example.org;Emerging\n".encode()
    rows = bulk.read_csv(data.replace(b"E-mail", b"Email"), max_rows=10, max_bytes=1000)
    assert rows == [
        {"name": "Zoë Ångström", "email": "zoe@example.org", "level": "Emerging", "_line": "2"}
    ]


def test_dry_run_explains_every_bad_row(app: Flask, assessor: Account) -> None:
    service = app.extensions["assess"].bulk
    checked = service.dry_run(principal(app, assessor), (HEADER + GOOD + BAD).encode())
    assert [row.number for row in checked.good] == [2, 3]
    problems = {row.number: " ".join(row.problems) for row in checked.bad}
    assert problems == {
        4: "There is no level “Wizard”.",
        5: "The e-mail address is not valid.",
        6: "Statement 11 does not exist: this level has statements 1 to 10.",
        7: "This level requires 10 of its 10 statements; 2 were given. "
        "Not demonstrated: statement 3, 4, 5, 6, 7, 8, 9, 10.",
        8: "Same earner and level as line 2.",
        9: "The expiry date is in the past.",
        10: "The evidence link must be a web address starting with https://.",
        11: "You may not award Emerging.",
    }
    assert checked.good[1].request["statements"] == list(range(10))  # type: ignore[index]
    assert checked.good[0].request["validUntil"] == "2030-12-31T23:59:59Z"  # type: ignore[index]
    assert issued_count(app) == 0


def test_statement_numbers_are_ascii_digits(app: Flask, assessor: Account) -> None:
    """Arabic-Indic 1 would read as 1 and '²' crash int(): neither is a number here."""
    arabic = " ".join(chr(0x0660 + n) for n in range(1, 10))
    rows = f"A,a@example.org,Proficient,{arabic},,,\nB,b@example.org,Proficient,1 2 3²,,,\n"
    service = app.extensions["assess"].bulk
    checked = service.dry_run(principal(app, assessor), (HEADER + rows).encode())
    problems = {row.number: " ".join(row.problems) for row in checked.bad}
    assert problems == {
        2: f"Statement “{chr(0x0661)}” is not a number.",
        3: "Statement “3²” is not a number.",
    }


def test_issue_exactly_the_good_rows_and_never_twice(app: Flask, assessor: Account) -> None:
    service = app.extensions["assess"].bulk
    who = principal(app, assessor)
    data = (HEADER + GOOD + BAD).encode()
    job_id, _ = service.create_job(who, "awards.csv", data, address="10.0.0.1")
    assert issued_count(app) == 0
    service.start(who, job_id)
    assert service.run_all("test-worker") == 1
    progress = service.progress(who, job_id)
    assert progress.as_json() | {"id": ""} == {
        "id": "",
        "status": "done",
        "total": 10,
        "toIssue": 2,
        "processed": 2,
        "issued": 2,
        "duplicate": 0,
        "failed": 0,
        "invalid": 8,
        "percent": 100,
        "done": True,
    }
    assert issued_count(app) == 2
    # The same file again: the dry run finds both earners already hold the badge.
    again, checked = service.create_job(who, "awards.csv", data, address="10.0.0.1")
    assert all("already holds this badge" in " ".join(r.problems) for r in checked.rows[:2])
    service.start(who, again)
    service.run_all("test-worker")
    assert issued_count(app) == 2
    result = list(csv.reader(io.StringIO("".join(service.result_csv(who, job_id, "https://b")))))
    assert result[0] == ["row", "email", "level", "outcome", "credential_id", "page", "error"]
    assert [r[3] for r in result[1:]] == ["issued"] * 2 + ["invalid"] * 8
    assert result[1][5] == f"https://b/credentials/{result[1][4]}"
    events = app.extensions["assess"].audit.browse(action="award.issued").entries
    assert len(events) == 2 and {e.address for e in events} == {"10.0.0.1"}


def test_a_job_whose_worker_died_is_resumed_without_duplicates(
    app: Flask, assessor: Account
) -> None:
    service = app.extensions["assess"].bulk
    who = principal(app, assessor)
    rows = "".join(f"E{n},e{n}@example.org,Proficient,,,,\n" for n in range(bulk.BATCH_SIZE + 5))
    job_id, _ = service.create_job(who, "big.csv", (HEADER + rows).encode(), address="")
    service.start(who, job_id)
    # A worker claims the job, issues one row's credential and dies before recording it.
    assert service._claim("dead-worker") == job_id
    first = app.extensions["issuer"].issuance.award(
        who,
        {"achievement": ACHIEVEMENT, "recipient": {"email": "e0@example.org", "name": "E0"}},
        f"bulk:{job_id}:2",
    )
    # While its lease lasts nobody else takes the job.
    assert service.run_next("live-worker") is False
    db = app.extensions["issuer"].db
    with db.write() as session:
        session.execute(
            update(BulkJob)
            .where(BulkJob.id == job_id)
            .values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert service.run_next("live-worker") is True
    progress = service.progress(who, job_id)
    assert progress.status == "done"
    assert progress.counts == {"issued": bulk.BATCH_SIZE + 5}
    assert issued_count(app) == bulk.BATCH_SIZE + 5
    row_two = service.job_rows(who, job_id, problems_only=False)[0]
    assert row_two.credential_id == first.id


def test_two_workers_racing_claim_a_job_once(app: Flask, assessor: Account) -> None:
    service = app.extensions["assess"].bulk
    who = principal(app, assessor)
    job_id, _ = service.create_job(
        who, "a.csv", (HEADER + "A,a@example.org,Proficient,,,,\n").encode(), address=""
    )
    service.start(who, job_id)
    claims: list[str | None] = []
    barrier = threading.Barrier(2)

    def claim(name: str) -> None:
        barrier.wait()
        claims.append(service._claim(name))

    threads = [threading.Thread(target=claim, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claims, key=str) == sorted([job_id, None], key=str)


def test_the_same_file_run_twice_at_once_issues_each_award_once(
    app: Flask, assessor: Account
) -> None:
    """Both dry runs are clean (nothing issued yet); two workers then run the two jobs at the
    same time. The check that the earner holds no such badge runs inside each award's
    transaction, under a lock per earner and level, so one of each pair is a duplicate."""
    service = app.extensions["assess"].bulk
    who = principal(app, assessor)
    rows = "".join(f"E{n},e{n}@example.org,Proficient,,,,\n" for n in range(6))
    jobs = [
        service.create_job(who, "same.csv", (HEADER + rows).encode(), address="")[0]
        for _ in range(2)
    ]
    for job_id in jobs:
        service.start(who, job_id)
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        barrier.wait()
        service.run_next(name)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert issued_count(app) == 6
    counts = [service.progress(who, job_id).counts for job_id in jobs]
    assert sum(c.get("issued", 0) for c in counts) == 6
    assert sum(c.get("duplicate", 0) for c in counts) == 6
    events = app.extensions["assess"].audit.browse(action="award.issued").entries
    assert len(events) == 6


def test_a_row_that_cannot_be_issued_fails_alone_and_the_job_finishes(
    app: Flask, assessor: Account
) -> None:
    """Row 2's idempotency key was already used for another award (say, by a script reusing
    the job's keys): that row fails with the reason, the others are issued."""
    service = app.extensions["assess"].bulk
    who = principal(app, assessor)
    rows = "A,a@example.org,Proficient,,,,\nB,b@example.org,Proficient,,,,\n"
    job_id, _ = service.create_job(who, "two.csv", (HEADER + rows).encode(), address="")
    app.extensions["issuer"].award(
        who,
        {"achievement": ACHIEVEMENT, "recipient": {"email": "someone@example.org"}},
        f"bulk:{job_id}:2",
        actor=who.email,
        address=None,
        details={},
    )
    service.start(who, job_id)
    service.run_all("test-worker")
    progress = service.progress(who, job_id)
    assert progress.status == "done"
    assert progress.counts == {"failed": 1, "issued": 1}
    failed = service.job_rows(who, job_id, problems_only=True)
    assert [(row.number, row.status) for row in failed] == [(2, "failed")]
    assert "Idempotency-Key" in (failed[0].error or "")


def test_another_assessors_job_is_not_found(app: Flask, assessor: Account) -> None:
    service = app.extensions["assess"].bulk
    job_id, _ = service.create_job(
        principal(app, assessor), "a.csv", (HEADER + GOOD).encode(), address=""
    )
    other = make_account(app, "bob@example.org", all_levels=True)
    with pytest.raises(Exception, match="job_not_found"):
        service.progress(principal(app, other), job_id)
    with pytest.raises(Exception, match="job_not_found"):
        service.start(principal(app, other), "not-a-job")


def test_result_cells_are_neutralised() -> None:
    from issuer.audit import csv_line

    assert csv_line(["=1+1", "+A", "-2", "@x", "plain", 3]) == "'=1+1,'+A,'-2,'@x,plain,3\r\n"


def test_the_pages_dry_run_issue_and_download(
    app: Flask, client: FlaskClient, assessor: Account
) -> None:
    csrf = sign_in(client, assessor)
    page = client.get("/assess/bulk", headers=HTML).get_data(as_text=True)
    assert "evidence_narrative" in page
    example = client.get("/assess/bulk/example.csv")
    assert example.mimetype == "text/csv" and example.get_data(as_text=True).startswith("name,")
    response = client.post(
        "/assess/bulk",
        data={"csrf_token": csrf, "file": (io.BytesIO((HEADER + GOOD + BAD).encode()), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    job_url = response.headers["Location"]
    page = client.get(job_url, headers=HTML).get_data(as_text=True)
    assert "There is no level “Wizard”." in page and "Issue 2 credentials" in page
    assert issued_count(app) == 0
    client.post(f"{job_url}/start", data={"csrf_token": csrf})
    app.extensions["assess"].runner.join(timeout=60)
    progress = client.get(f"{job_url}/progress.json").get_json()
    assert progress["done"] and progress["issued"] == 2
    result = client.get(f"{job_url}/result.csv").get_data(as_text=True)
    assert result.count(",issued,") == 2
    assert issued_count(app) == 2


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"name,email\n", 422, "missing: level"),
        ("name,email,level\nZoë,z@example.org,Emerging\n".encode("latin-1"), 422, "UTF-8"),
    ],
)
def test_the_upload_page_explains_unreadable_files(
    client: FlaskClient, assessor: Account, data: bytes, status: int, message: str
) -> None:
    csrf = sign_in(client, assessor)
    response = client.post(
        "/assess/bulk",
        data={"csrf_token": csrf, "file": (io.BytesIO(data), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == status
    assert message in response.get_data(as_text=True)


def test_an_upload_over_the_limit_gets_a_message(
    app: Flask, client: FlaskClient, assessor: Account
) -> None:
    csrf = sign_in(client, assessor)
    app.config["BULK_MAX_BYTES"] = 2000
    response = client.post(
        "/assess/bulk",
        data={"csrf_token": csrf, "file": (io.BytesIO(b"x" * 5000), "a.csv")},
        content_type="multipart/form-data",
        headers=HTML,
    )
    assert response.status_code == 413
    assert re.search(r"larger than \d+ KiB", response.get_data(as_text=True))


def test_a_job_signed_by_the_signing_processes_issues_each_row_once(
    app: Flask, assessor: Account, caplog: pytest.LogCaptureFixture
) -> None:
    """Through the process pool (two signing processes that load the keys themselves), in
    batches: every row is issued once, with a credential that verifies both ways, its own
    status entry, its audit record and its e-mail; a row the signers cannot prepare (its
    level gone from the stored request) fails alone; and running the job again (as after a
    crash) issues nothing more."""
    from sqlalchemy import func, select

    from issuer.proofs import data_integrity, vc_jwt
    from issuer.storage.models import BulkJobRow, OutgoingMail, StatusEntry

    service = app.extensions["assess"].bulk
    core = app.extensions["issuer"]
    service.pool_min_rows = 1
    service.signing_processes = 2
    who = principal(app, assessor)
    count = bulk.BATCH_SIZE + 30
    rows = "".join(f"E{n},e{n}@example.org,Proficient,,Did it,,\n" for n in range(count))
    job_id, _ = service.create_job(who, "pool.csv", (HEADER + rows).encode(), address="10.0.0.9")
    with core.db.write() as session:
        session.execute(
            update(BulkJobRow)
            .where(BulkJobRow.job_id == job_id, BulkJobRow.row_number == 7)
            .values(
                request_json='{"achievement": "no-such/level", "recipient": {"email": "x@y.org"}}'
            )
        )
    service.start(who, job_id)
    with caplog.at_level("INFO", logger="issuer.bulk"):
        assert service.run_all("pool-worker") == 1
    assert f"Bulk job {job_id}: 2 signing processes" in caplog.text
    progress = service.progress(who, job_id)
    assert progress.status == "done"
    assert progress.counts == {"issued": count - 1, "failed": 1}
    failed = service.job_rows(who, job_id, problems_only=True)
    assert [row.number for row in failed] == [7]
    issued = [
        row for row in service.job_rows(who, job_id, problems_only=False) if row.credential_id
    ]
    assert len({row.credential_id for row in issued}) == count - 1 == issued_count(app)
    keyring = core.keyring()
    public_key = keyring.signing_key("EdDSA").public_key
    for row in issued[:: bulk.BATCH_SIZE // 4]:
        award = core.issuance.get(row.credential_id)
        data_integrity.verify_proof(award.credential, public_key)
        assert vc_jwt.verify_vc_jwt(award.jwt, keyring.find)["id"] == award.credential["id"]
    with core.db.read() as session:
        entries = session.execute(select(StatusEntry.list_id, StatusEntry.status_index)).all()
        mails = session.scalar(select(func.count()).select_from(OutgoingMail))
    assert len(entries) == len(set(entries)) == count - 1
    assert mails == count - 1
    events = app.extensions["assess"].audit.browse(action="award.issued", page_size=500)
    assert events.total == count - 1 and {e.address for e in events.entries} == {"10.0.0.9"}
    # Run again, as a worker that took the job over after a crash would: nothing new.
    with core.db.write() as session:
        session.execute(update(BulkJob).where(BulkJob.id == job_id).values(status="queued"))
    service.run_all("second-worker")
    assert issued_count(app) == count - 1
