"""The earner's credential page, its settings link, and the award e-mail."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from support import BASE_URL, smtp_server

from issuer import badge_images
from issuer.earner import SettingsLinks
from issuer.mail import AWARD_NOTICE
from issuer.storage.models import OutgoingMail

pytestmark = pytest.mark.storage

ACHIEVEMENT = "computer-user-support-specialists/proficient"
EMAIL = "grace@example.org"
HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}


def award(client: FlaskClient, token: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "achievement": ACHIEVEMENT,
        "recipient": {"email": EMAIL, "name": "Grace Hopper"},
        "statements": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        "evidence": [
            {
                "name": "Help-desk ticket log",
                "narrative": "Resolved 40 tickets in a week.",
                "url": "https://evidence.example.org/tickets/1",
            }
        ],
        "validUntil": "2031-03-31T00:00:00Z",
        **overrides,
    }
    body = {key: value for key, value in body.items() if value is not None}
    response = client.post(
        "/api/v1/awards", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def page_html(client: FlaskClient, credential_id: str) -> str:
    response = client.get(f"/credentials/{credential_id}", headers=HTML)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def meta(html: str, key: str) -> str:
    match = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)"', html)
    assert match, f"no {key} meta tag"
    return unescape(match.group(1))


def settings_url(app: Flask, credential_id: str) -> str:
    return str(app.extensions["issuer"].earner.settings_url(credential_id))


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_the_page_shows_the_facts_and_never_the_email(
    client: FlaskClient, assessor_token: str
) -> None:
    issued = award(client, assessor_token)
    credential = issued["credential"]
    html = page_html(client, issued["id"])
    text = unescape(html)
    achievement = credential["credentialSubject"]["achievement"]
    assert "Grace Hopper" in text
    assert achievement["name"] in text
    for statement in achievement["resultDescription"]:
        assert statement["name"] in text
    assert 'href="https://evidence.example.org/tickets/1"' in html
    assert "Resolved 40 tickets in a week." in text
    assert "Example Training Board" in text
    assert "did:web:badges.example.test" in text
    assert f'<time datetime="{credential["validFrom"]}">' in html
    assert "31 March 2031" in text
    assert 'data-status="valid"' in html
    assert f'alt="{achievement["image"]["caption"]}"' in text
    assert EMAIL not in html
    assert "grace@" not in html.lower()


def test_the_page_asks_not_to_be_indexed(client: FlaskClient, assessor_token: str) -> None:
    issued = award(client, assessor_token)
    response = client.get(f"/credentials/{issued['id']}", headers=HTML)
    assert "noindex" in response.headers["X-Robots-Tag"]
    assert "noindex" in meta(response.get_data(as_text=True), "robots")
    assert "public" not in response.headers["Cache-Control"]


def test_open_graph_and_twitter_tags_preview_the_badge(
    client: FlaskClient, assessor_token: str
) -> None:
    issued = award(client, assessor_token)
    html = page_html(client, issued["id"])
    achievement = issued["credential"]["credentialSubject"]["achievement"]
    assert meta(html, "og:title") == achievement["name"]
    assert meta(html, "og:url") == f"{BASE_URL}/credentials/{issued['id']}"
    assert "Example Training Board" in meta(html, "og:description")
    image = meta(html, "og:image")
    assert image == f"{BASE_URL}/achievements/{ACHIEVEMENT}.png"
    assert meta(html, "twitter:image") == image
    assert meta(html, "twitter:card") == "summary"
    assert meta(html, "og:image:alt") == achievement["image"]["caption"]
    png = client.get(urlsplit(image).path)
    assert png.status_code == 200
    assert png.mimetype == "image/png"
    assert badge_images.png_size(png.data) == (512, 512)


def test_the_linkedin_link_is_prefilled(client: FlaskClient, assessor_token: str) -> None:
    issued = award(client, assessor_token)
    html = page_html(client, issued["id"])
    href = unescape(re.search(r'href="(https://www\.linkedin\.com/profile/add\?[^"]+)"', html)[1])
    parameters = {key: values[0] for key, values in parse_qs(urlsplit(href).query).items()}
    issued_at = datetime.fromisoformat(issued["credential"]["validFrom"])
    assert parameters == {
        "startTask": "CERTIFICATION_NAME",
        "name": issued["credential"]["credentialSubject"]["achievement"]["name"],
        "organizationName": "Example Training Board",
        "issueYear": str(issued_at.year),
        "issueMonth": str(issued_at.month),
        "expirationYear": "2031",
        "expirationMonth": "3",
        "certUrl": f"{BASE_URL}/credentials/{issued['id']}",
        "certId": issued["id"],
    }


def test_without_an_expiry_the_linkedin_link_has_none(
    client: FlaskClient, assessor_token: str
) -> None:
    issued = award(client, assessor_token, validUntil=None)
    html = page_html(client, issued["id"])
    href = unescape(re.search(r'href="(https://www\.linkedin\.com/profile/add\?[^"]+)"', html)[1])
    assert "expirationYear" not in href
    assert "No expiry date" in html


def test_the_qr_code_holds_the_page_link(client: FlaskClient, assessor_token: str) -> None:
    issued = award(client, assessor_token)
    page_url = f"{BASE_URL}/credentials/{issued['id']}"
    html = page_html(client, issued["id"])
    assert badge_images.qr_svg(page_url, title="QR code of this page's link") in html
    response = client.get(f"/credentials/{issued['id']}/qr.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" ')
    expected = badge_images.qr_svg(page_url, title="QR code of the badge page")
    assert svg.split(">", 1)[1] == expected.split(">", 1)[1]


def test_a_hidden_page_hides_every_rendering_while_the_credential_keeps_verifying(
    app: Flask, client: FlaskClient, assessor_token: str
) -> None:
    issued = award(client, assessor_token)
    credential_id = issued["id"]
    token = parse_qs(urlsplit(settings_url(app, credential_id)).query)["token"][0]
    saved = client.post(
        f"/credentials/{credential_id}/settings", data={"token": token, "visibility": "hidden"}
    )
    assert saved.status_code == 303
    assert "token" not in saved.headers["Location"]
    assert "now hidden" in client.get(saved.headers["Location"]).get_data(as_text=True)

    stranger = app.test_client()
    hidden = stranger.get(f"/credentials/{credential_id}", headers=HTML)
    assert hidden.status_code == 404
    assert hidden.mimetype == "text/html"
    assert "Grace Hopper" not in hidden.get_data(as_text=True)
    unknown = stranger.get("/credentials/00000000-0000-4000-8000-000000000000", headers=JSON)
    for path in ("", ".json", ".jwt", ".png", ".svg", "/qr.svg"):
        for accept in (JSON, {"Accept": "application/vc+jwt"}, {"Accept": "*/*"}):
            response = stranger.get(f"/credentials/{credential_id}{path}", headers=accept)
            assert response.status_code == 404, (path, accept)
            assert issued["jwt"].encode() not in response.data
    assert unknown.get_json()["code"] == "credential_not_found"
    # A link to it is not found by the verifier either (it reads our own links from storage).
    for path in ("", ".json", ".jwt"):
        by_link = stranger.post(
            "/api/v1/verify", json={"url": f"{BASE_URL}/credentials/{credential_id}{path}"}
        )
        assert by_link.status_code == 404 and by_link.get_json()["code"] == "credential_not_found"
    # What the earner handed someone still verifies, from its own bytes.
    assert stranger.post("/api/v1/verify", json=issued["credential"]).get_json()["verified"]
    assert stranger.post(
        "/api/v1/verify", data=issued["jwt"], content_type="application/vc+jwt"
    ).get_json()["verified"]

    client.post(
        f"/credentials/{credential_id}/settings", data={"token": token, "visibility": "public"}
    )
    for path in ("", ".json", ".jwt", ".png", ".svg", "/qr.svg"):
        assert stranger.get(f"/credentials/{credential_id}{path}").status_code == 200, path


def test_the_settings_link_token_is_exchanged_for_a_cookie_and_dropped_from_the_url(
    app: Flask, client: FlaskClient, assessor_token: str
) -> None:
    """The e-mail link's token must not stay in the address bar, history, access logs or
    Referer: the first visit keeps it in the session and redirects to the bare URL."""
    issued = award(client, assessor_token)
    url = local(settings_url(app, issued["id"]))
    first = client.get(url, headers=HTML)
    assert first.status_code == 303
    assert first.headers["Location"] == f"/credentials/{issued['id']}/settings"
    assert first.headers["Referrer-Policy"] == "no-referrer"
    assert first.headers["Cache-Control"] == "no-store"
    page = client.get(first.headers["Location"], headers=HTML)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "Who can see your badge page" in page.get_data(as_text=True)
    # Another browser, without the cookie, gets nothing from the bare URL.
    assert app.test_client().get(first.headers["Location"], headers=HTML).status_code == 403
    saved = client.post(
        f"/credentials/{issued['id']}/settings",
        data={"token": parse_qs(urlsplit(url).query)["token"][0], "visibility": "hidden"},
    )
    assert saved.headers["Location"] == f"/credentials/{issued['id']}/settings?saved=hidden"


def test_a_settings_choice_must_be_public_or_hidden(
    app: Flask, client: FlaskClient, assessor_token: str
) -> None:
    issued = award(client, assessor_token)
    token = parse_qs(urlsplit(settings_url(app, issued["id"])).query)["token"][0]
    response = client.post(
        f"/credentials/{issued['id']}/settings", data={"token": token, "visibility": "secret"}
    )
    assert response.status_code == 422
    assert client.get(f"/credentials/{issued['id']}", headers=HTML).status_code == 200


def _tampered(token: str) -> str:
    # Change a character inside the signature: the last base64url character also carries
    # padding bits a decoder ignores, so changing it may leave the signature intact.
    middle = token[-10]
    return token[:-10] + ("A" if middle != "A" else "Z") + token[-9:]


@pytest.mark.parametrize(
    ("make_token", "code", "words"),
    [
        (lambda app, cid: _tampered(_token(app, cid)), "settings_link_invalid", "not valid"),
        (lambda app, cid: _token(app, cid)[:-6], "settings_link_invalid", "not valid"),
        (lambda app, cid: "", "settings_link_invalid", "not valid"),
        (
            lambda app, cid: _token(app, "00000000-0000-4000-8000-000000000000"),
            "settings_link_invalid",
            "another credential",
        ),
        (
            lambda app, cid: SettingsLinks(app.config["SECRET_KEY"]).token(
                cid, now=datetime.now(UTC) - timedelta(days=400)
            ),
            "settings_link_expired",
            "expired",
        ),
        (
            lambda app, cid: SettingsLinks("another secret").token(cid),
            "settings_link_invalid",
            "not valid",
        ),
    ],
)
def test_a_tampered_or_expired_settings_link_is_403_with_an_explanation(
    app: Flask, client: FlaskClient, assessor_token: str, make_token: Any, code: str, words: str
) -> None:
    issued = award(client, assessor_token)
    token = make_token(app, issued["id"])
    page = client.get(
        f"/credentials/{issued['id']}/settings", query_string={"token": token}, headers=HTML
    )
    assert page.status_code == 403
    assert page.mimetype == "text/html"
    assert words in page.get_data(as_text=True)
    problem = client.get(
        f"/credentials/{issued['id']}/settings", query_string={"token": token}, headers=JSON
    )
    assert problem.status_code == 403
    assert problem.get_json()["code"] == code
    saved = client.post(
        f"/credentials/{issued['id']}/settings", data={"token": token, "visibility": "hidden"}
    )
    assert saved.status_code == 403
    assert client.get(f"/credentials/{issued['id']}", headers=HTML).status_code == 200


def _token(app: Flask, credential_id: str) -> str:
    return str(app.extensions["issuer"].earner.links.token(credential_id))


@pytest.mark.parametrize(
    "credential_id",
    [
        "00000000-0000-4000-8000-000000000000",
        "not-a-uuid",
        "x" * 600,
        "%00",
        "..%2F..%2Fetc%2Fpasswd",
        "00000000-0000-4000-8000-00000000000G",
        "%F0%9F%98%80",
    ],
)
@pytest.mark.parametrize("suffix", ["", ".png", ".svg", "/qr.svg", "/settings"])
def test_unknown_or_malformed_ids_are_404(
    client: FlaskClient, credential_id: str, suffix: str
) -> None:
    page = client.get(f"/credentials/{credential_id}{suffix}", headers=HTML)
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    problem = client.get(f"/credentials/{credential_id}{suffix}", headers=JSON)
    assert problem.status_code == 404
    assert problem.mimetype == "application/problem+json"
    assert problem.get_json()["code"] in ("credential_not_found", "not_found")


def test_an_unknown_level_image_is_404(client: FlaskClient) -> None:
    assert client.get("/achievements/computer-user-support-specialists/nope.png").status_code == 404


def test_a_revoked_credential_says_so_with_the_reason(
    app: Flask, client: FlaskClient, assessor_token: str
) -> None:
    issued = award(client, assessor_token)
    app.extensions["issuer"].revocation.revoke(issued["id"], "Awarded in error", by=None)
    html = page_html(client, issued["id"])
    assert 'data-status="revoked"' in html
    assert "Revoked" in html
    assert "Awarded in error" in html


def test_an_expired_credential_says_so(
    app: Flask, client: FlaskClient, assessor_token: str
) -> None:
    issued = award(client, assessor_token)
    services = app.extensions["issuer"]
    later = datetime(2031, 4, 1, tzinfo=UTC)
    services.earner._clock = lambda: later
    html = page_html(client, issued["id"])
    assert 'data-status="expired"' in html
    assert "Expired on 31 March 2031" in html


def _messages(outbox: Path) -> list[EmailMessage]:
    return [
        # UTF-8 headers (RFC 6532) are read as text; Python's bytes parser would not decode them.
        email.message_from_string(path.read_text("utf-8"), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted(outbox.glob("*.eml"))
    ]


def test_the_award_email_is_written_to_the_outbox_with_both_parts_and_links(
    app: Flask, client: FlaskClient, assessor_token: str
) -> None:
    issued = award(client, assessor_token)
    messages = _messages(Path(app.config["OUTBOX_DIR"]))
    assert len(messages) == 1
    message = messages[0]
    assert message["To"] == f"Grace Hopper <{EMAIL}>"
    assert "Proficient" in message["Subject"]
    page_url = f"{BASE_URL}/credentials/{issued['id']}"
    plain = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert page_url in plain
    assert f'href="{page_url}"' in html
    settings_link = re.search(rf"{re.escape(page_url)}/settings\?token=\S+", plain)
    assert settings_link is not None
    assert unescape(settings_link.group(0)) in unescape(html)
    assert client.get(local(settings_link.group(0)), follow_redirects=True).status_code == 200


def test_an_idempotent_replay_is_not_mailed_twice(
    app: Flask, client: FlaskClient, assessor_token: str
) -> None:
    body = {"achievement": ACHIEVEMENT, "recipient": {"email": EMAIL, "name": "Grace Hopper"}}
    headers = {"Authorization": f"Bearer {assessor_token}", "Idempotency-Key": "once"}
    first = client.post("/api/v1/awards", json=body, headers=headers)
    second = client.post("/api/v1/awards", json=body, headers=headers)
    assert first.get_json()["id"] == second.get_json()["id"]
    assert len(_messages(Path(app.config["OUTBOX_DIR"]))) == 1


def test_a_failing_mail_server_neither_fails_the_award_nor_loses_the_message(
    smtp_app: Flask, smtp_port: int
) -> None:
    services = smtp_app.extensions["issuer"]
    token = services.assessors.add(
        "assessor@example.org", name="Ada", levels=[], all_levels=True, is_admin=False
    ).token
    client = smtp_app.test_client()
    issued = award(client, token)

    (pending,) = services.mail.outbox.pending()
    assert pending.credential_id == issued["id"]
    assert pending.kind == AWARD_NOTICE
    assert pending.attempts == 1
    assert pending.last_error
    assert pending.next_attempt_at > datetime.now(UTC)
    assert services.mail.outbox.deliver_due() == 0

    later = datetime.now(UTC) + timedelta(minutes=2)
    with smtp_server(smtp_port) as received:
        assert services.mail.outbox.deliver_due(later) == 1
    assert services.mail.outbox.pending() == []
    (raw,) = received
    assert f"{BASE_URL}/credentials/{issued['id']}".encode() in raw
    assert services.mail.outbox.deliver_due(later + timedelta(days=1)) == 0


@pytest.mark.parametrize(
    "name",
    [
        "x" * 70 + " <attacker@evil.example>",
        "Grace <attacker@evil.example>",
        'Grace" <attacker@evil.example>, "',
        "attacker@evil.example",
        "Grace, attacker@evil.example",
        "=?utf-8?q?attacker=40evil.example?=",
        "x" * 70 + ' "<attacker@evil.example>',
    ],
)
def test_the_earners_name_cannot_redirect_the_award_email(
    smtp_app: Flask, smtp_port: int, name: str
) -> None:
    """The mail goes to the stored address only, whatever the name holds; the name is
    encoded, so no mail program reads an address in it either."""
    services = smtp_app.extensions["issuer"]
    token = services.assessors.add(
        "assessor@example.org", name="Ada", levels=[], all_levels=True, is_admin=False
    ).token
    with smtp_server(smtp_port) as received:
        award(smtp_app.test_client(), token, recipient={"email": EMAIL, "name": name})
    assert received.recipients == [EMAIL]
    (raw,) = received
    (address,) = email.message_from_bytes(raw, policy=email.policy.default)["To"].addresses
    assert address.addr_spec == EMAIL
    # RFC 2047 joins adjacent encoded words; Python's new parser puts a space between them.
    written = email.message_from_bytes(raw)["To"]
    assert (
        "@evil" not in written and str(make_header(decode_header(written))) == f"{name} <{EMAIL}>"
    )


def test_a_message_queued_before_the_outbox_kept_bare_addresses_goes_to_its_earner(
    smtp_app: Flask, smtp_port: int
) -> None:
    """Rows written earlier kept the whole quoted To header as the recipient."""
    services = smtp_app.extensions["issuer"]
    token = services.assessors.add(
        "assessor@example.org", name="Ada", levels=[], all_levels=True, is_admin=False
    ).token
    award(smtp_app.test_client(), token)  # no server yet: it waits in the outbox
    with services.db.write() as session:
        session.execute(
            update(OutgoingMail).values(recipient=f'"x <attacker@evil.example>" <{EMAIL}>')
        )
    with smtp_server(smtp_port) as received:
        assert services.mail.outbox.deliver_due(datetime.now(UTC) + timedelta(hours=1)) == 1
    assert received.recipients == [EMAIL]


INTERNATIONAL = {"email": "José.Núñez@exämple.org", "name": "José Núñez"}


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_a_name_with_a_unicode_line_break_is_mailed_on_one_line(
    app: Flask, client: FlaskClient, assessor_token: str, separator: str
) -> None:
    """The award takes the name as given; the e-mail header gets it on one line (a header
    may hold no line break, and Python counts these as line breaks)."""
    issued = award(
        client, assessor_token, recipient={"email": EMAIL, "name": f"Grace{separator}Hopper"}
    )
    identities = issued["credential"]["credentialSubject"]["identifier"]
    assert {"identityType": "name", "identityHash": f"Grace{separator}Hopper"}.items() <= next(
        identity for identity in identities if identity["identityType"] == "name"
    ).items()
    (message,) = _messages(Path(app.config["OUTBOX_DIR"]))
    assert message["To"].addresses[0].display_name == "Grace Hopper"


def test_an_international_address_is_written_with_its_domain_in_idna(
    app: Flask, client: FlaskClient, assessor_token: str
) -> None:
    award(client, assessor_token, recipient=INTERNATIONAL)
    (message,) = _messages(Path(app.config["OUTBOX_DIR"]))
    (address,) = message["To"].addresses
    assert (address.display_name, address.username) == ("José Núñez", "José.Núñez")
    assert address.domain == "xn--exmple-cua.org"


def test_a_server_without_smtputf8_refuses_only_the_international_address(
    smtp_app: Flask, smtp_port: int
) -> None:
    """The test server offers no SMTPUTF8: the message to José waits (its failure recorded),
    and it does not hold up Grace's."""
    services = smtp_app.extensions["issuer"]
    token = services.assessors.add(
        "assessor@example.org", name="Ada", levels=[], all_levels=True, is_admin=False
    ).token
    client = smtp_app.test_client()
    to_jose = award(client, token, recipient=INTERNATIONAL)
    award(client, token)
    with smtp_server(smtp_port) as received:
        assert services.mail.outbox.deliver_due(datetime.now(UTC) + timedelta(minutes=2)) == 1
    (waiting,) = services.mail.outbox.pending()
    assert waiting.credential_id == to_jose["id"]
    assert waiting.last_error.startswith("SMTPNotSupportedError")
    (raw,) = received
    assert EMAIL.encode() in raw


RENDERINGS = ("", ".json", ".jwt", ".png", ".svg", "/qr.svg")


def test_each_rendering_revalidates_by_etag_and_no_shared_cache_keeps_it(
    client: FlaskClient, assessor_token: str
) -> None:
    issued = award(client, assessor_token)
    for path in RENDERINGS:
        for accept in (HTML, JSON, {"Accept": "application/vc+jwt"}):
            url = f"/credentials/{issued['id']}{path}"
            first = client.get(url, headers=accept)
            assert first.status_code == 200, (path, accept)
            # The earner may hide it at any moment: revalidate every time, browsers only.
            assert first.headers["Cache-Control"] == "private, no-cache", (path, accept)
            etag = first.headers["ETag"]
            again = client.get(url, headers={**accept, "If-None-Match": etag})
            assert again.status_code == 304, (path, accept)
            assert again.data == b""
            assert client.get(url, headers={**accept, "If-None-Match": '"other"'}).data == (
                first.data
            )
    html = client.get(f"/credentials/{issued['id']}", headers=HTML)
    jwt = client.get(f"/credentials/{issued['id']}", headers={"Accept": "application/vc+jwt"})
    assert html.headers["ETag"] != jwt.headers["ETag"]
    assert "Accept" in html.headers["Vary"]


def test_a_page_seen_before_is_hidden_revoked_and_expired_at_once(
    app: Flask, client: FlaskClient, assessor_token: str
) -> None:
    """What is remembered to make views cheap never outlives the standing it was made for."""
    issued = award(client, assessor_token)
    credential_id = issued["id"]
    for path in RENDERINGS:
        assert client.get(f"/credentials/{credential_id}{path}", headers=HTML).status_code == 200
    seen = client.get(f"/credentials/{credential_id}", headers=HTML)
    assert 'data-status="valid"' in seen.get_data(as_text=True)

    earner = app.extensions["issuer"].earner
    token = parse_qs(urlsplit(settings_url(app, credential_id)).query)["token"][0]
    earner.set_hidden(credential_id, token, True)
    for path in RENDERINGS:
        hidden = client.get(
            f"/credentials/{credential_id}{path}",
            headers={**HTML, "If-None-Match": seen.headers["ETag"]},
        )
        assert hidden.status_code == 404, path
    earner.set_hidden(credential_id, token, False)

    app.extensions["issuer"].revocation.revoke(credential_id, "Awarded in error", by=None)
    revoked = client.get(
        f"/credentials/{credential_id}", headers={**HTML, "If-None-Match": seen.headers["ETag"]}
    )
    assert revoked.status_code == 200
    html = revoked.get_data(as_text=True)
    assert 'data-status="revoked"' in html and "Awarded in error" in html
    assert "The issuer has revoked this credential." in html
