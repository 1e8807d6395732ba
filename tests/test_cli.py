"""The `issuer` command line, run as an operator would."""

from __future__ import annotations

import email
import email.policy
import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import update
from support import PASSPHRASE, ROOT, free_port, smtp_server

from issuer import create_app
from issuer.storage.models import OutgoingMail


@pytest.fixture
def fresh_config(tmp_path: Path) -> dict[str, Any]:
    """A deployment with nothing yet: no database, no keys, no templates."""
    return {
        "ENV": "production",
        "BASE_URL": "https://badges.example.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'issuer.sqlite3'}",
        "KEYS_DIR": str(tmp_path / "keys"),
        "KEY_PASSPHRASE": PASSPHRASE,
        "SECRET_KEY": "test-secret-key",
        "TEMPLATES_DIR": str(tmp_path / "badge_templates"),
        "OUTBOX_DIR": str(tmp_path / "outbox"),
    }


def invoke(config: dict[str, Any], *args: str) -> Any:
    """Run one command in a new process-like app, as each `issuer …` invocation is."""
    app = create_app(config)
    result = app.test_cli_runner().invoke(args=list(args))
    app.extensions["issuer"].db.dispose()
    return result


def test_init_sets_everything_up_once(fresh_config: dict[str, Any]) -> None:
    first = invoke(fresh_config, "init")

    assert first.exit_code == 0, first.output
    assert first.output.count("Generated key:") == 3
    assert "is ready with 4 badges" in first.output
    keys = Path(fresh_config["KEYS_DIR"])
    private_keys = sorted(keys.glob("*.key.pem"))
    assert len(private_keys) == 3
    for path in private_keys:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        # Only the passphrase opens it.
        with pytest.raises(TypeError, match="encrypted"):
            serialization.load_pem_private_key(path.read_bytes(), password=None)
    templates = Path(fresh_config["TEMPLATES_DIR"]) / "computer-user-support-specialists"
    assert (templates / "proficient.json").read_bytes() == (
        ROOT / "badge_templates/computer-user-support-specialists/proficient.json"
    ).read_bytes()

    again = invoke(fresh_config, "init")
    assert again.exit_code == 0, again.output
    assert "Generated key" not in again.output and "Imported" not in again.output
    assert sorted(keys.glob("*.key.pem")) == private_keys


def test_assessors_add_prints_the_token_last(fresh_config: dict[str, Any]) -> None:
    invoke(fresh_config, "init")
    result = invoke(
        fresh_config,
        "assessors", "add", "Lin@Example.org", "--name", "Lin",
        "--levels", "computer-user-support-specialists/emerging",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("obi_")
    assert "One-time password:" in result.output

    app = create_app(fresh_config)
    response = app.test_client().post(
        "/api/v1/awards",
        json={
            "achievement": "computer-user-support-specialists/emerging",
            "recipient": {"email": "earner@example.org"},
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201
    app.extensions["issuer"].db.dispose()

    duplicate = invoke(fresh_config, "assessors", "add", "lin@example.org")
    assert duplicate.exit_code == 1 and "assessor_exists" in duplicate.output
    unknown = invoke(fresh_config, "assessors", "add", "x@example.org", "--levels", "a/b")
    assert unknown.exit_code == 1 and "achievement_not_found" in unknown.output


def test_award_from_the_command_line(fresh_config: dict[str, Any]) -> None:
    invoke(fresh_config, "init")
    invoke(fresh_config, "assessors", "add", "lead@example.org", "--all")
    result = invoke(
        fresh_config,
        "award", "--assessor", "lead@example.org",
        "--achievement", "computer-user-support-specialists/advanced",
        "--email", "earner@example.org", "--name", "Earner", "--statements", "0,1,2,3,4,5,6,7,8,9",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    printed = json.loads(result.output.strip().splitlines()[-1])
    assert printed["page"] == f"https://badges.example.test/credentials/{printed['id']}"
    app = create_app(fresh_config)
    events = app.extensions["issuer"].audit.browse().entries
    app.extensions["issuer"].db.dispose()
    assert [(e.actor, e.action) for e in events] == [
        ("cli", "award.issued"),
        ("cli", "account.created"),
    ]
    # The earner's message went out before the command ended (no thread left to finish it).
    [sent] = Path(fresh_config["OUTBOX_DIR"]).glob("*.eml")
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    assert message["To"] == "Earner <earner@example.org>"
    assert printed["page"] in message.get_body(("plain",)).get_content()

    refused = invoke(
        fresh_config,
        "award", "--assessor", "lead@example.org",
        "--achievement", "computer-user-support-specialists/advanced",
        "--email", "earner@example.org", "--statements", "0,1",
    )  # fmt: skip
    assert refused.exit_code == 1 and "statements_below_minimum" in refused.output


def test_keys_list_and_rotate_keep_old_keys_published(fresh_config: dict[str, Any]) -> None:
    invoke(fresh_config, "init")
    before = invoke(fresh_config, "keys", "list")
    assert before.exit_code == 0 and len(before.output.strip().splitlines()) == 3
    assert "PRIVATE" not in before.output

    rotated = invoke(fresh_config, "keys", "rotate", "ES256")
    assert rotated.exit_code == 0, rotated.output

    app = create_app(fresh_config)
    document = app.test_client().get("/.well-known/did.json").json
    assert len(document["verificationMethod"]) == 4
    assert len(document["assertionMethod"]) == 4
    assert len(app.test_client().get("/.well-known/jwks.json").json["keys"]) == 4


def test_templates_check_names_the_broken_file(fresh_config: dict[str, Any]) -> None:
    invoke(fresh_config, "init")
    assert invoke(fresh_config, "templates", "check").output.strip() == "4 templates are valid."
    broken = Path(fresh_config["TEMPLATES_DIR"]) / "computer-user-support-specialists/advanced.json"
    template = json.loads(broken.read_text())
    template["achievement"]["name"] = 42
    broken.write_text(json.dumps(template))

    # A broken template stops start-up itself, so the command never runs.
    with pytest.raises(Exception) as raised:
        create_app(fresh_config)
    assert getattr(raised.value, "code", None) == "template_invalid"
    assert "advanced.json" in str(raised.value)


def test_frameworks_import_writes_one_template_per_level(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    framework = json.loads((ROOT / "frameworks/computer-user-support-specialists.json").read_text())
    framework["occupation"]["title"] = "Network Technicians"
    framework["framework"]["levels"] = {
        "novice": {"label": "Novice", "statements": ["Cables — route them."]},
        "expert": {"label": "Expert", "statements": ["Routers — configure them.", "BGP — debug."]},
    }
    source = tmp_path / "network.json"
    source.write_text(json.dumps(framework))

    result = runner.invoke(args=["frameworks", "import", str(source)])

    assert result.exit_code == 0, result.output
    written = Path(app.config["TEMPLATES_DIR"]) / "network-technicians"
    try:
        assert sorted(p.name for p in written.iterdir()) == [
            "expert.json",
            "expert.svg",
            "novice.json",
            "novice.svg",
        ]
    finally:
        for path in written.iterdir():
            path.unlink()
        written.rmdir()

    source.write_text("{")
    refused = runner.invoke(args=["frameworks", "import", str(source)])
    assert refused.exit_code == 1 and "framework_invalid" in refused.output


def test_the_outbox_from_the_command_line(fresh_config: dict[str, Any]) -> None:
    """The mail server is down when the badge is awarded: the message waits, `issuer mail
    pending` says why, and once the server is back and the retry is due, `issuer mail send`
    delivers it."""
    port = free_port()
    config = {**fresh_config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}
    config["SMTP_STARTTLS"] = "false"
    invoke(config, "init")
    invoke(config, "assessors", "add", "lead@example.org", "--all")
    awarded = invoke(
        config,
        "award", "--assessor", "lead@example.org",
        "--achievement", "computer-user-support-specialists/advanced",
        "--email", "earner@example.org",
    )  # fmt: skip
    assert awarded.exit_code == 0, awarded.output

    waiting = invoke(config, "mail", "pending")
    assert waiting.exit_code == 0
    assert "earner@example.org" in waiting.output
    assert "1 tries, next try" in waiting.output
    assert "ConnectionRefusedError" in waiting.output
    assert waiting.output.strip().endswith("1 message(s) not sent.")
    assert invoke(config, "mail", "send").output.strip() == "0 message(s) sent."  # not due yet

    app = create_app(config)
    with app.extensions["issuer"].db.write() as session:
        session.execute(update(OutgoingMail).values(next_attempt_at=datetime.now(UTC)))
    app.extensions["issuer"].db.dispose()
    with smtp_server(port) as received:
        assert invoke(config, "mail", "send").output.strip() == "1 message(s) sent."
    assert len(received) == 1
    assert invoke(config, "mail", "pending").output.strip() == "0 message(s) not sent."
