"""The assessors' workspace through the Flask test client: sign-in, CSRF, award one, the
list with revoke, accounts, tokens and the audit log."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from assess_helpers import ACHIEVEMENT, HTML, Account, csrf_from, make_account, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from issuer.errors import IssuerError
from issuer.storage.models import AuditEvent, IssuedCredential, Revocation

pytestmark = pytest.mark.storage


@pytest.fixture
def admin(app: Flask) -> Account:
    return make_account(app, "admin@example.org", is_admin=True)


@pytest.fixture
def assessor(app: Flask) -> Account:
    return make_account(app, "ada@example.org", levels=(ACHIEVEMENT,))


def count(app: Flask, model: Any) -> int:
    with app.extensions["issuer"].db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def award_form(csrf: str, **changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf_token": csrf,
        "achievement": ACHIEVEMENT,
        "award_key": "k1",
        "name": "Grace Hopper",
        "email": "grace@example.org",
        "statement": [str(n) for n in range(1, 11)],
        "narrative_2": "Fixed the mail server.",
        "url_2": "https://example.org/evidence/2",
        "action": "award",
    }
    form.update(changes)
    return form


def test_the_workspace_sends_strangers_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/assess/issued", headers=HTML)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/assess/login?next=")


def test_sign_in_and_out(client: FlaskClient, assessor: Account) -> None:
    csrf = sign_in(client, assessor)
    assert "Hello, Ada" in client.get("/assess/", headers=HTML).get_data(as_text=True)
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.secure
    assert cookie.same_site == "Lax"
    assert client.post("/assess/logout", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/assess/", headers=HTML).status_code == 302


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.org", "wrong password"), ("nobody@example.org", "whatever")],
)
def test_a_wrong_email_and_a_wrong_password_read_the_same(
    client: FlaskClient, assessor: Account, email: str, password: str
) -> None:
    csrf = csrf_from(client.get("/assess/login").get_data(as_text=True))
    response = client.post(
        "/assess/login", data={"email": email, "password": password, "csrf_token": csrf}
    )
    assert response.status_code == 401
    assert "The e-mail address or the password is not right." in response.get_data(as_text=True)


def test_sign_in_is_throttled_per_account(client: FlaskClient, assessor: Account) -> None:
    csrf = csrf_from(client.get("/assess/login").get_data(as_text=True))
    for _ in range(5):
        client.post(
            "/assess/login",
            data={"email": assessor.email, "password": "nope", "csrf_token": csrf},
        )
    # Now even the right password is refused until the window passes.
    response = client.post(
        "/assess/login",
        data={"email": assessor.email, "password": assessor.password, "csrf_token": csrf},
    )
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed sign-ins" in response.get_data(as_text=True)


@pytest.mark.parametrize("statement", ["²", "\u0661", "1" * 5000, "-1", "11"])
def test_a_ticked_statement_must_be_one_of_the_levels(
    app: Flask, client: FlaskClient, assessor: Account, statement: str
) -> None:
    csrf = sign_in(client, assessor)
    response = client.post("/assess/award", data=award_form(csrf, statement=[statement]))
    assert response.status_code == 422
    assert "A ticked statement does not exist." in response.get_data(as_text=True)
    assert count(app, IssuedCredential) == 0


@pytest.mark.parametrize(
    "next_path",
    [
        "/assess/\r\nSet-Cookie: a=b",
        "/assess/\n",
        "/assess/\x00",
        "/assess/\u2028x",
        "/assess/\x7f",
    ],
)
def test_a_next_path_that_cannot_be_a_location_goes_home(
    client: FlaskClient, assessor: Account, next_path: str
) -> None:
    csrf = csrf_from(client.get("/assess/login").get_data(as_text=True))
    response = client.post(
        "/assess/login",
        data={
            "email": assessor.email,
            "password": assessor.password,
            "csrf_token": csrf,
            "next": next_path,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/assess/"
    again = client.get("/assess/login", query_string={"next": next_path})
    assert again.status_code == 302 and again.headers["Location"] == "/assess/"


def test_parallel_wrong_passwords_get_no_more_checks_than_the_limit(
    app: Flask, assessor: Account
) -> None:
    """40 guesses at once: the limit is taken with each attempt, so at most 5 passwords are
    checked (each of those answers sign_in_failed), and the rest are throttled unchecked."""
    assessors = app.extensions["issuer"].assessors

    def guess(number: int) -> str:
        try:
            assessors.sign_in(assessor.email, f"guess {number}", address=f"10.0.0.{number}")
        except IssuerError as error:
            return error.code
        return "signed_in"

    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(guess, range(40)))
    assert answers.count("sign_in_failed") == 5, answers
    assert answers.count("sign_in_throttled") == 35


def test_a_right_password_clears_its_own_attempt(app: Flask, assessor: Account) -> None:
    assessors = app.extensions["issuer"].assessors
    for _ in range(30):
        assessors.sign_in(assessor.email, assessor.password, address="10.0.0.1")


def test_sign_in_is_throttled_per_address(app: Flask, client: FlaskClient) -> None:
    csrf = csrf_from(client.get("/assess/login").get_data(as_text=True))
    for number in range(20):
        client.post(
            "/assess/login",
            data={"email": f"guess{number}@example.org", "password": "x", "csrf_token": csrf},
        )
    account = make_account(app, "late@example.org", all_levels=True)
    response = client.post(
        "/assess/login",
        data={"email": account.email, "password": account.password, "csrf_token": csrf},
    )
    assert response.status_code == 429


def test_a_form_without_the_csrf_token_changes_nothing(
    app: Flask, client: FlaskClient, assessor: Account
) -> None:
    csrf = sign_in(client, assessor)
    for token in ("", "forged"):
        response = client.post("/assess/award", data=award_form(token))
        assert response.status_code == 400
    assert count(app, IssuedCredential) == 0
    response = client.post(
        "/assess/award", data=award_form(csrf), headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 400
    assert count(app, IssuedCredential) == 0


def test_the_login_form_needs_its_token_too(client: FlaskClient, assessor: Account) -> None:
    response = client.post(
        "/assess/login", data={"email": assessor.email, "password": assessor.password}
    )
    assert response.status_code == 400


def test_award_one_with_evidence(app: Flask, client: FlaskClient, assessor: Account) -> None:
    csrf = sign_in(client, assessor)
    form_page = client.get(f"/assess/award?achievement={ACHIEVEMENT}", headers=HTML)
    assert form_page.get_data(as_text=True).count('type="checkbox" name="statement"') == 10
    response = client.post("/assess/award", data=award_form(csrf))
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body
    credential_id = re.search(r"/credentials/([0-9a-f-]{36})", body).group(1)  # type: ignore[union-attr]
    credential = client.get(f"/credentials/{credential_id}.json").get_json()
    assert credential["evidence"][0]["narrative"] == "Fixed the mail server."
    assert len(credential["credentialSubject"]["result"]) == 10
    # The same form sent twice (a double click) issues one credential.
    client.post("/assess/award", data=award_form(csrf))
    assert count(app, IssuedCredential) == 1
    events = app.extensions["assess"].audit.browse(action="award.issued").entries
    assert [(e.actor, e.subject, e.address) for e in events] == [
        (assessor.email, credential_id, "127.0.0.1")
    ]


def test_unticking_required_statements_is_refused_with_a_message(
    app: Flask, client: FlaskClient, assessor: Account
) -> None:
    csrf = sign_in(client, assessor)
    form = award_form(csrf, statement=[str(n) for n in range(1, 9)])
    response = client.post("/assess/award", data=form)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "There is a problem" in body
    assert "requires 10 of its 10 statements" in body
    assert "Not demonstrated: statement 9, 10" in body
    assert count(app, IssuedCredential) == 0


def test_preview_issues_nothing(app: Flask, client: FlaskClient, assessor: Account) -> None:
    csrf = sign_in(client, assessor)
    response = client.post("/assess/award", data=award_form(csrf, action="preview"))
    assert response.status_code == 200
    assert "Preview: what the earner will see" in response.get_data(as_text=True)
    assert count(app, IssuedCredential) == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"email": "not-an-address"}, "e-mail address"),
        ({"url_2": "javascript:alert(1)"}, "web addresses starting with https://"),
        ({"valid_until": "2001-01-01"}, "in the past"),
        ({"valid_until": "soon"}, "a date such as"),
        ({"statement": ["1", "99"]}, "does not exist"),
    ],
)
def test_bad_award_forms(
    app: Flask, client: FlaskClient, assessor: Account, changes: dict[str, Any], message: str
) -> None:
    csrf = sign_in(client, assessor)
    response = client.post("/assess/award", data=award_form(csrf, **changes))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(app, IssuedCredential) == 0


def test_a_level_the_assessor_may_not_award_is_not_found(app: Flask, client: FlaskClient) -> None:
    other = make_account(
        app, "emerging@example.org", levels=("computer-user-support-specialists/emerging",)
    )
    csrf = sign_in(client, other)
    assert client.get(f"/assess/award?achievement={ACHIEVEMENT}").status_code == 404
    assert client.post("/assess/award", data=award_form(csrf)).status_code == 404
    assert count(app, IssuedCredential) == 0


def issue(app: Flask, account: Account, email: str, name: str) -> str:
    services = app.extensions["issuer"]
    principal = services.assessors.by_id(account.id)
    request = {"achievement": ACHIEVEMENT, "recipient": {"email": email, "name": name}}
    return str(services.issuance.award(principal, request).id)


def test_the_list_searches_and_revokes(app: Flask, client: FlaskClient, assessor: Account) -> None:
    first = issue(app, assessor, "grace@example.org", "Grace Hopper")
    issue(app, assessor, "alan@example.org", "Alan Turing")
    csrf = sign_in(client, assessor)
    page = client.get("/assess/issued?q=grace", headers=HTML).get_data(as_text=True)
    assert "Grace Hopper" in page and "Alan Turing" not in page
    assert "2 awards" in client.get("/assess/issued").get_data(as_text=True)
    response = client.post(
        f"/assess/issued/{first}/revoke",
        data={"csrf_token": csrf, "reason": "Issued in error", "confirm": "yes"},
    )
    assert response.status_code == 302
    page = client.get("/assess/issued?status=revoked").get_data(as_text=True)
    assert "Grace Hopper" in page and "Issued in error" in page and "Alan Turing" not in page
    assert app.extensions["issuer"].revocation.status_of(first).revoked
    events = app.extensions["assess"].audit.browse(action="credential.revoked").entries
    assert [e.subject for e in events] == [first]


def test_the_award_email_can_be_sent_again(
    app: Flask, client: FlaskClient, assessor: Account
) -> None:
    credential_id = issue(app, assessor, "grace@example.org", "Grace Hopper")
    outbox = Path(app.config["OUTBOX_DIR"])
    csrf = sign_in(client, assessor)
    assert "Resend e-mail" in client.get("/assess/issued").get_data(as_text=True)

    for _ in range(2):
        response = client.post(f"/assess/issued/{credential_id}/resend", data={"csrf_token": csrf})
        assert response.status_code == 302

    sent = sorted(outbox.glob("*.eml"))
    assert len(sent) == 2
    assert all("grace@example.org" in path.read_text() for path in sent)
    assert credential_id in sent[-1].read_text()
    events = app.extensions["issuer"].audit.browse(action="award.email_resent").entries
    assert [event.subject for event in events] == [credential_id, credential_id]


def test_revoking_needs_a_reason(app: Flask, client: FlaskClient, assessor: Account) -> None:
    credential_id = issue(app, assessor, "grace@example.org", "Grace Hopper")
    csrf = sign_in(client, assessor)
    client.post(
        f"/assess/issued/{credential_id}/revoke",
        data={"csrf_token": csrf, "reason": "", "confirm": "yes"},
    )
    assert "Say why" in client.get("/assess/issued").get_data(as_text=True)
    assert count(app, Revocation) == 0


def test_another_assessors_award_of_a_foreign_level_is_not_found(
    app: Flask, client: FlaskClient, assessor: Account
) -> None:
    credential_id = issue(app, assessor, "grace@example.org", "Grace Hopper")
    other = make_account(
        app, "emerging@example.org", levels=("computer-user-support-specialists/emerging",)
    )
    csrf = sign_in(client, other)
    assert "Grace" not in client.get("/assess/issued").get_data(as_text=True)
    response = client.post(
        f"/assess/issued/{credential_id}/revoke",
        data={"csrf_token": csrf, "reason": "x", "confirm": "yes"},
    )
    assert response.status_code == 404
    assert count(app, Revocation) == 0


def test_bad_search_dates_get_a_message(client: FlaskClient, assessor: Account) -> None:
    sign_in(client, assessor)
    response = client.get("/assess/issued?from=yesterday")
    assert response.status_code == 422
    assert "From must be a date" in response.get_data(as_text=True)


def test_change_password(app: Flask, client: FlaskClient, assessor: Account) -> None:
    csrf = sign_in(client, assessor)
    response = client.post(
        "/assess/account/password",
        data={
            "csrf_token": csrf,
            "current_password": assessor.password,
            "new_password": "a much longer secret",
            "confirm_password": "a much longer secret",
        },
    )
    assert response.status_code == 302
    assert client.get("/assess/account").status_code == 200
    services = app.extensions["issuer"].assessors
    assert services.sign_in(assessor.email, "a much longer secret", address="t").id == assessor.id
    weak = client.post(
        "/assess/account/password",
        data={
            "csrf_token": csrf,
            "current_password": "a much longer secret",
            "new_password": "short",
            "confirm_password": "short",
        },
    )
    assert weak.status_code == 422


def test_tokens_are_created_shown_once_and_revoked(
    app: Flask, client: FlaskClient, assessor: Account
) -> None:
    csrf = sign_in(client, assessor)
    page = client.post("/assess/account/tokens", data={"csrf_token": csrf, "label": "laptop"})
    token = re.search(r'<code id="new-token">([^<]+)</code>', page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    services = app.extensions["issuer"].assessors
    assert services.authenticate_token(token).id == assessor.id
    assert token not in client.get("/assess/account").get_data(as_text=True)
    token_id = services.list_tokens(assessor.id)[-1].id
    client.post(f"/assess/account/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    response = client.post(
        "/api/v1/awards",
        json={"achievement": ACHIEVEMENT, "recipient": {"email": "g@example.org"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401
    actions = [
        e.action for e in app.extensions["assess"].audit.browse(actor=assessor.email).entries
    ]
    assert "token.created" in actions and "token.revoked" in actions


def test_admin_pages_are_hidden_from_assessors(client: FlaskClient, assessor: Account) -> None:
    sign_in(client, assessor)
    for path in ("/assess/admin/assessors", "/assess/admin/audit", "/assess/admin/audit.csv"):
        assert client.get(path).status_code == 404


def test_admin_creates_resets_and_disables(app: Flask, client: FlaskClient, admin: Account) -> None:
    csrf = sign_in(client, admin)
    page = client.post(
        "/assess/admin/assessors",
        data={"csrf_token": csrf, "email": "new@example.org", "name": "New", "level": ACHIEVEMENT},
    ).get_data(as_text=True)
    password = re.search(r'<code id="new-password">([^<]+)</code>', page).group(1)  # type: ignore[union-attr]
    services = app.extensions["issuer"].assessors
    new = services.sign_in("new@example.org", password, address="t")
    assert new.levels == frozenset({ACHIEVEMENT})
    page = client.post(
        f"/assess/admin/assessors/{new.id}/reset-password", data={"csrf_token": csrf}
    ).get_data(as_text=True)
    reset = re.search(r'<code id="new-password">([^<]+)</code>', page).group(1)  # type: ignore[union-attr]
    assert services.sign_in("new@example.org", reset, address="t").id == new.id
    client.post(
        f"/assess/admin/assessors/{new.id}/disabled", data={"csrf_token": csrf, "disabled": "true"}
    )
    with pytest.raises(Exception, match="sign_in_failed"):
        services.sign_in("new@example.org", reset, address="t")
    duplicate = client.post(
        "/assess/admin/assessors",
        data={"csrf_token": csrf, "email": "new@example.org", "all_levels": "on"},
    )
    assert duplicate.status_code == 422
    actions = {e.action for e in app.extensions["assess"].audit.browse().entries}
    assert {"account.created", "account.password_reset", "account.disabled"} <= actions


def _one_time_sign_in(client: FlaskClient, email: str, password: str) -> Any:
    page = client.get("/assess/login", headers=HTML).get_data(as_text=True)
    return client.post(
        "/assess/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(page)},
    )


@pytest.mark.parametrize("how", ["created", "reset"])
def test_a_one_time_password_works_once_and_forces_a_new_password(
    app: Flask, client: FlaskClient, admin: Account, how: str
) -> None:
    csrf = sign_in(client, admin)
    page = client.post(
        "/assess/admin/assessors",
        data={"csrf_token": csrf, "email": "new@example.org", "level": ACHIEVEMENT},
    ).get_data(as_text=True)
    password = re.search(r'<code id="new-password">([^<]+)</code>', page).group(1)  # type: ignore[union-attr]
    if how == "reset":
        new_id = app.extensions["issuer"].assessors.by_email("new@example.org").id
        page = client.post(
            f"/assess/admin/assessors/{new_id}/reset-password", data={"csrf_token": csrf}
        ).get_data(as_text=True)
        password = re.search(r'<code id="new-password">([^<]+)</code>', page).group(1)  # type: ignore[union-attr]
    first, second = app.test_client(), app.test_client()
    signed_in = _one_time_sign_in(first, "new@example.org", password)
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"].endswith("/assess/choose-password")
    # Every other page of the workspace sends the session to choose a password.
    for path in ("/assess/", "/assess/award", "/assess/issued", "/assess/account"):
        response = first.get(path, headers=HTML)
        assert response.status_code == 302, path
        assert response.headers["Location"].endswith("/assess/choose-password")
    # The same password does not sign in a second time, in another browser or this one.
    again = _one_time_sign_in(second, "new@example.org", password)
    assert again.status_code == 401
    chooser = first.get("/assess/choose-password", headers=HTML).get_data(as_text=True)
    assert "Choose your password" in chooser
    mismatch = first.post(
        "/assess/choose-password",
        data={
            "csrf_token": csrf_from(chooser),
            "new_password": "a long new secret",
            "confirm_password": "another one",
        },
    )
    assert mismatch.status_code == 422
    chosen = first.post(
        "/assess/choose-password",
        data={
            "csrf_token": csrf_from(chooser),
            "new_password": "a long new secret",
            "confirm_password": "a long new secret",
        },
    )
    assert chosen.status_code == 302
    assert first.get("/assess/", headers=HTML).status_code == 200
    assert first.get("/assess/choose-password").status_code == 302
    assert _one_time_sign_in(second, "new@example.org", "a long new secret").status_code == 302
    assert second.get("/assess/", headers=HTML).status_code == 200
    actions = {e.action for e in app.extensions["assess"].audit.browse().entries}
    assert "account.password_chosen" in actions


def test_a_one_time_password_expires(app: Flask) -> None:
    from datetime import UTC, datetime, timedelta

    from issuer.assessors import ONE_TIME_PASSWORD_LIFETIME, AssessorService

    db = app.extensions["issuer"].db
    start = datetime(2026, 12, 1, tzinfo=UTC)
    created = AssessorService(db, clock=lambda: start).add(
        "late@example.org", name=None, levels=[ACHIEVEMENT], all_levels=False, is_admin=False
    )
    later = AssessorService(db, clock=lambda: start + ONE_TIME_PASSWORD_LIFETIME)
    with pytest.raises(IssuerError) as refused:
        later.sign_in("late@example.org", created.password, address="t")
    assert refused.value.code == "one_time_password_expired"
    almost = AssessorService(db, clock=lambda: start + ONE_TIME_PASSWORD_LIFETIME - timedelta(1))
    assert almost.sign_in("late@example.org", created.password, address="t").must_change_password


def test_a_session_without_a_one_time_password_cannot_skip_the_current_one(
    app: Flask, client: FlaskClient, assessor: Account
) -> None:
    sign_in(client, assessor)
    assert client.get("/assess/choose-password").status_code == 302
    with pytest.raises(IssuerError) as refused:
        app.extensions["issuer"].assessors.choose_password(
            app.extensions["issuer"].assessors.by_id(assessor.id), "a long new secret"
        )
    assert refused.value.code == "password_not_one_time"


def test_audit_log_export_neutralises_formulas(
    app: Flask, client: FlaskClient, admin: Account
) -> None:
    app.extensions["assess"].audit.record(
        "=cmd|' /C calc'!A0", "award.issued", "@SUM(1)", address="+1", details={"x": "-1"}
    )
    sign_in(client, admin)
    exported = client.get("/assess/admin/audit.csv").get_data(as_text=True)
    assert "'=cmd" in exported and "'@SUM(1)" in exported and ",'+1," in exported
    assert "award.issued" in client.get("/assess/admin/audit").get_data(as_text=True)


def test_the_audit_table_is_append_only(app: Flask) -> None:
    audit = app.extensions["assess"].audit
    audit.record("someone@example.org", "award.issued", "x", address="127.0.0.1")
    db = app.extensions["issuer"].db
    for statement in ("UPDATE audit_events SET actor = 'me'", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"), db.write() as session:
            session.execute(text(statement))
    assert count(app, AuditEvent) == 1


def test_an_ended_session_cannot_be_replayed(
    app: Flask, client: FlaskClient, assessor: Account
) -> None:
    csrf = sign_in(client, assessor)
    cookie = client.get_cookie("session")
    assert cookie is not None
    client.post("/assess/logout", data={"csrf_token": csrf})
    client.set_cookie("session", cookie.value, domain=cookie.domain)
    assert client.get("/assess/", headers=HTML).status_code == 302


def test_a_revoke_without_the_tick_revokes_nothing(
    app: Flask, client: FlaskClient, assessor: Account
) -> None:
    credential_id = issue(app, assessor, "grace@example.org", "Grace Hopper")
    csrf = sign_in(client, assessor)
    page = client.get("/assess/issued", headers=HTML).get_data(as_text=True)
    assert '<summary class="button-like">Revoke…</summary>' in page
    assert 'name="confirm" value="yes" required' in page
    response = client.post(
        f"/assess/issued/{credential_id}/revoke", data={"csrf_token": csrf, "reason": "oops"}
    )
    assert response.status_code == 302
    assert count(app, Revocation) == 0
    assert "Nothing was revoked" in client.get("/assess/issued").get_data(as_text=True)


def test_the_preview_is_followed_by_the_award_button_not_a_second_form(
    client: FlaskClient, assessor: Account
) -> None:
    csrf = sign_in(client, assessor)
    page = client.post("/assess/award", data=award_form(csrf, action="preview"))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Preview: what the earner will see" in text
    assert text.count("<form ") == 2  # the preview's confirmation and the sign-out button
    assert 'id="statement-1"' not in text
    confirm = dict(re.findall(r'<input type="hidden" name="([a-z_0-9]+)" value="([^"]*)"', text))
    assert confirm["url_2"] == "https://example.org/evidence/2"
    edited = client.post("/assess/award", data=award_form(csrf, action="edit"))
    assert 'id="statement-1"' in edited.get_data(as_text=True)
    assert "All 10 statements are required for this level" in edited.get_data(as_text=True)


@pytest.mark.parametrize("url", ["http://example.org/evidence", "ftp://example.org/x"])
def test_evidence_links_must_be_https_everywhere(
    client: FlaskClient, assessor: Account, url: str
) -> None:
    csrf = sign_in(client, assessor)
    form = client.post("/assess/award", data=award_form(csrf, url_2=url))
    assert form.status_code == 422
    assert "starting with https://" in form.get_data(as_text=True)
    api = client.post(
        "/api/v1/awards",
        json={
            "achievement": ACHIEVEMENT,
            "recipient": {"email": "g@example.org"},
            "evidence": [{"url": url}],
        },
        headers={"Authorization": f"Bearer {assessor.token}"},
    )
    assert api.status_code == 422 and api.json["code"] == "evidence_url_invalid"  # type: ignore[index]


def test_the_issued_list_shows_wallet_copies(
    app: Flask, client: FlaskClient, assessor: Account
) -> None:
    from test_wallet import Wallet, claim_openid

    credential_id = issue(app, assessor, "grace@example.org", "Grace Hopper")
    claim_openid(app, app.test_client(), credential_id, Wallet())
    sign_in(client, assessor)
    page = client.get("/assess/issued", headers=HTML).get_data(as_text=True)
    row = page[page.index(f'id="award-{credential_id}"') :]
    assert "1 copy" in row[: row.index("</tr>")]
    assert "and its 1 wallet copy stop verifying" in row
