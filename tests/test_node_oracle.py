"""An oracle from another ecosystem: Digital Bazaar's and the DCC's JavaScript stacks and jose.

``tests/node/verify.mjs`` verifies every form of our credentials (the Data Integrity JSON,
the VC-JWT, and what is baked into the PNG and the SVG) and their Bitstring Status List
entries, resolving our did:web against a real HTTP server whose base URL is the issuer's,
so what the oracle reads is exactly what a verifier on the internet would. Each test runs
one node process over a batch of credentials.

The test skips when ``node`` or ``tests/node/node_modules`` is missing (``bin/test`` runs
``npm ci`` there when node is available), and fails instead when ``CI=true``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from support import ROOT, TEMPLATES_DIR, free_port
from werkzeug.serving import make_server

NODE_DIR = ROOT / "tests" / "node"
FRAMEWORK = "computer-user-support-specialists"
LEVELS = sorted(path.stem for path in (TEMPLATES_DIR / FRAMEWORK).glob("*.json"))
FORMS = ("json", "jwt", "png", "svg")
NODE_TIMEOUT_SECONDS = 60


@pytest.fixture
def node() -> str:
    """The node executable, or skip (fail on CI) saying what is missing."""
    node = shutil.which("node")
    if node is None:
        reason = "node is not installed: the JavaScript oracle cannot run"
    elif not (NODE_DIR / "node_modules").is_dir():
        reason = "tests/node/node_modules is missing: run `npm ci --prefix tests/node`"
    else:
        return node
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the oracle must run)")
    pytest.skip(reason)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def app_config(
    app_config: dict[str, Any], port: int, keys_dir: Path, tmp_path: Path
) -> dict[str, Any]:
    """The issuer at ``http://127.0.0.1:<port>``, so its did:web resolves to the live server
    (plain http needs development mode), with its own copy of the keys to rotate."""
    keys = tmp_path / "keys"
    shutil.copytree(keys_dir, keys)
    return {
        **app_config,
        "ENV": "development",
        "BASE_URL": f"http://127.0.0.1:{port}",
        "KEYS_DIR": str(keys),
    }


@pytest.fixture
def live_server(app: Flask, port: int) -> Iterator[str]:
    """The app behind a real threaded HTTP server on the port its base URL names."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _http(url: str, *, body: Any = None, token: str | None = None) -> bytes:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - the loopback test server only
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers=headers,
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        data: bytes = response.read()
    return data


def _award(server: str, token: str, level: str) -> str:
    """Award ``level`` over HTTP; the credential's id (the last path segment)."""
    answer = json.loads(
        _http(
            f"{server}/api/v1/awards",
            body={
                "achievement": f"{FRAMEWORK}/{level}",
                "recipient": {"email": f"{level}@example.org", "name": f"Earner {level}"},
            },
            token=token,
        )
    )
    credential_id: str = answer["id"]
    return credential_id


def _forms(server: str, credential_id: str) -> dict[str, Any]:
    """Every form of a credential as the server publishes it, for the oracle's job."""
    url = f"{server}/credentials/{credential_id}"
    return {
        "name": credential_id,
        "json": json.loads(_http(f"{url}.json")),
        "jwt": _http(f"{url}.jwt").decode("ascii"),
        "png": base64.b64encode(_http(f"{url}.png")).decode("ascii"),
        "svg": _http(f"{url}.svg").decode("utf-8"),
    }


def run_node(node: str, script: str, job: Any) -> Any:
    """What ``tests/node/<script>`` writes to stdout for ``job`` on its stdin (both JSON)."""
    completed = subprocess.run(  # noqa: S603 - our own script, no shell
        [node, str(NODE_DIR / script)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def _oracle(node: str, server: str, credentials: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The oracle's answer for each credential of the batch, by name: its forms' results."""
    results = run_node(node, "verify.mjs", {"baseUrl": server, "credentials": credentials})
    return {result["name"]: result["forms"] for result in results["results"]}


def _assert_verified(forms: dict[str, Any], *, revoked: bool) -> None:
    assert sorted(forms) == sorted(FORMS)
    for form, result in forms.items():
        assert result["verified"], (form, result)
        assert result["status"]["checked"], (form, result["status"])
        assert result["status"]["revoked"] is revoked, form
    assert {forms["png"]["baked"], forms["svg"]["baked"]} <= {"json", "jwt"}


def _tampered(forms: dict[str, Any]) -> dict[str, Any]:
    """The same credential with its earner's name changed in the JSON and in the JWT."""
    credential = json.loads(json.dumps(forms["json"]))
    credential["credentialSubject"]["name"] = "Mallory"
    header, payload, signature = forms["jwt"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["credentialSubject"]["name"] = "Mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return {"name": "tampered", "json": credential, "jwt": f"{header}.{forged}.{signature}"}


def test_every_level_verifies_in_every_form(
    node: str, live_server: str, assessor_token: str
) -> None:
    assert LEVELS == ["advanced", "developing", "emerging", "proficient"]
    issued = [_forms(live_server, _award(live_server, assessor_token, level)) for level in LEVELS]

    answers = _oracle(node, live_server, [*issued, _tampered(issued[0])])

    for credential in issued:
        _assert_verified(answers[credential["name"]], revoked=False)
    tampered = answers["tampered"]
    assert not tampered["json"]["verified"]
    assert not tampered["json"]["stacks"]["digitalbazaar"]["verified"]
    assert not tampered["json"]["stacks"]["dcc"]["verified"]
    assert not tampered["jwt"]["verified"]


def test_rotation_keeps_old_credentials_verifying_and_revocation_reads_revoked(
    node: str, app: Flask, live_server: str, assessor_token: str
) -> None:
    old_id = _award(live_server, assessor_token, "emerging")
    kept_id = _award(live_server, assessor_token, "developing")
    runner = app.test_cli_runner()
    for algorithm in ("EdDSA", app.config["JWT_ALGORITHM"]):
        rotated = runner.invoke(args=["keys", "rotate", algorithm])
        assert rotated.exit_code == 0, rotated.output
    new_id = _award(live_server, assessor_token, "advanced")
    old, kept, new = (_forms(live_server, i) for i in (old_id, kept_id, new_id))
    assert _proof_key(new) != _proof_key(old)
    assert _jwt_kid(new["jwt"]) != _jwt_kid(old["jwt"])

    before = _oracle(node, live_server, [old, kept, new])
    for credential in (old, kept, new):
        _assert_verified(before[credential["name"]], revoked=False)

    _http(
        f"{live_server}/api/v1/credentials/{old_id}/revoke",
        body={"reason": "Awarded in error."},
        token=assessor_token,
    )
    after = _oracle(node, live_server, [old, kept, new])
    _assert_verified(after[old_id], revoked=True)
    _assert_verified(after[kept_id], revoked=False)
    _assert_verified(after[new_id], revoked=False)


def _proof_key(forms: dict[str, Any]) -> str:
    method: str = forms["json"]["proof"][0]["verificationMethod"]
    return method


def _jwt_kid(token: str) -> str:
    header = token.split(".", 1)[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid
