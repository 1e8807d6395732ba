"""A key rotation while the service runs: nothing restarts, and nothing fails to verify.

Real gunicorn processes on one database: two share a keys directory (one host, two
services), a third has its own copy from before the rotation (another host). Before this,
a worker signed with the key it had at start until restarted, and served a DID document
without the keys another worker had rotated in, so credentials signed elsewhere failed on it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from support import AWARD, BASE_URL, PASSPHRASE, ROOT, TEMPLATES_DIR, free_port

from issuer import create_app, keyring
from issuer.errors import KeyringError
from issuer.services import Services

pytestmark = pytest.mark.storage

BIN = Path(sys.executable).parent


def _environment(database_url: str, keys_dir: Path, tmp_path: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ISSUER_")}
    environment.update(
        {
            "ISSUER_ENV": "production",
            "ISSUER_BASE_URL": BASE_URL,
            "ISSUER_DATABASE_URL": database_url,
            "ISSUER_KEYS_DIR": str(keys_dir),
            "ISSUER_KEY_PASSPHRASE": PASSPHRASE,
            "ISSUER_SECRET_KEY": "test-secret-key",
            "ISSUER_TEMPLATES_DIR": str(TEMPLATES_DIR),
            "ISSUER_OUTBOX_DIR": str(tmp_path / "outbox"),
            "ISSUER_STATUS_ARCHIVE_DIR": str(tmp_path / "status-archive"),
            "ISSUER_VERIFY_RATE_PER_MINUTE": "0",
        }
    )
    return environment


class Host:
    """A gunicorn process (1 worker x 2 threads) of the service, and its address."""

    def __init__(self, environment: dict[str, str], bind_port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{bind_port}"
        self.environment = environment
        with log.open("wb") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our own program, no shell
                [BIN / "gunicorn", "wsgi:app"],
                cwd=ROOT,
                env={
                    **environment,
                    "GUNICORN_BIND": f"127.0.0.1:{bind_port}",
                    "GUNICORN_WORKERS": "1",
                    "GUNICORN_THREADS": "2",
                    "GUNICORN_ACCESSLOG": os.devnull,
                },
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        _eventually(lambda: self.get("/healthz")[0] == 200, f"{self.url} to start ({log})")

    def get(self, path: str) -> tuple[int, bytes]:
        return self._call(urllib.request.Request(self.url + path))  # noqa: S310 - loopback

    def post(self, path: str, body: bytes, content_type: str, token: str | None = None) -> Any:
        headers = {"Content-Type": content_type}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.url + path, body, headers, method="POST"
        )
        status, data = self._call(request)
        assert status in (200, 201), (status, data[:500])
        return json.loads(data)

    def json(self, path: str) -> Any:
        status, data = self.get(path)
        assert status == 200, (path, status, data[:500])
        return json.loads(data)

    def award(self, token: str) -> dict[str, Any]:
        award: dict[str, Any] = self.post(
            "/api/v1/awards", json.dumps(AWARD).encode(), "application/json", token
        )
        award["png"] = self.get(f"/credentials/{award['id']}.png")[1]
        return award

    def verified(self, award: dict[str, Any]) -> list[bool]:
        """Whether this host verifies the award as JSON, as VC-JWT and as baked PNG."""
        forms = [
            (json.dumps(award["credential"]).encode(), "application/json"),
            (award["jwt"].encode(), "application/vc+jwt"),
            (award["png"], "image/png"),
        ]
        return [self.post("/api/v1/verify", body, kind)["verified"] for body, kind in forms]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    @staticmethod
    def _call(request: urllib.request.Request) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except urllib.error.URLError:
            return 0, b""  # not listening (yet)


def _eventually(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.1)


def _kids(host: Host) -> set[str]:
    return {method["id"] for method in host.json("/.well-known/did.json")["verificationMethod"]}


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _copy_keys(source: Path, destination: Path) -> None:
    """Copy a keys directory as an operator would: key files first, the manifest last."""
    destination.mkdir(mode=0o700, exist_ok=True)
    for path in sorted(source.glob("*.pem")):
        shutil.copy2(path, destination / path.name)
    shutil.copy2(source / keyring.MANIFEST_NAME, destination / ".manifest.tmp")
    os.replace(destination / ".manifest.tmp", destination / keyring.MANIFEST_NAME)


@pytest.fixture
def one_service(
    database_url: str, keys_dir: Path, tmp_path: Path
) -> Iterator[tuple[dict[str, str], str]]:
    """The environment of one service (its own copy of the test keys, a migrated database
    with an assessor) and that assessor's API token."""
    keys = tmp_path / "keys"
    _copy_keys(keys_dir, keys)
    environment = _environment(database_url, keys, tmp_path)
    subprocess.run(  # noqa: S603 - our own program, no shell
        [BIN / "issuer", "init"], cwd=ROOT, env=environment, check=True, capture_output=True
    )
    app = _app(environment)
    token = _services(app).assessors.add(
        "assessor@example.org", name="Ada Assessor", levels=[], all_levels=True, is_admin=False
    )
    _services(app).db.dispose()
    yield environment, token.token


def _app(environment: dict[str, str]) -> Flask:
    config = {key.removeprefix("ISSUER_"): value for key, value in environment.items()}
    config = {key: value for key, value in config.items() if key == key.upper()}
    return create_app({**config, "TESTING": True})


def _services(app: Flask) -> Services:
    services: Services = app.extensions["issuer"]
    return services


def _rotate(environment: dict[str, str], alg: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own program, no shell
        [BIN / "issuer", "keys", "rotate", alg],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_running_workers_sign_with_a_rotated_key_and_every_host_publishes_it_first(
    one_service: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    environment, token = one_service
    keys = Path(environment["ISSUER_KEYS_DIR"])
    other_keys = tmp_path / "other-host-keys"
    _copy_keys(keys, other_keys)
    hosts = [
        Host(environment, free_port(), tmp_path / "a.log"),
        Host(environment, free_port(), tmp_path / "b.log"),
        Host({**environment, "ISSUER_KEYS_DIR": str(other_keys)}, free_port(), tmp_path / "c.log"),
    ]
    try:
        first, same_dir, other_host = hosts
        before = first.award(token)
        old_kids = _kids(first)
        assert all(host.verified(before) == [True] * 3 for host in hosts)

        _rotate(environment, "EdDSA")
        output = _rotate(environment, "RS256")
        assert "copy this keys directory" in output

        new_kids = _kids(first) - old_kids
        assert len(new_kids) == 2
        # No restart: both workers on this keys directory sign with the new keys at once.
        for host in (first, same_dir):
            award = host.award(token)
            assert award["credential"]["proof"][0]["verificationMethod"] in new_kids
            header = json.loads(_b64url(award["jwt"].split(".")[0]))
            assert header["kid"] in new_kids
            for verifier in hosts:
                assert verifier.verified(award) == [True] * 3, verifier.url
            assert all(verifier.verified(before) == [True] * 3 for verifier in hosts)
        # The other host publishes the keys rotated elsewhere, and says it is behind.
        assert new_kids | old_kids <= _kids(other_host)
        status, body = other_host.get("/readyz")
        assert status == 503
        assert json.loads(body)["checks"]["signing_keys"] == "signing_key_retired"
        # Once the rotated directory reaches it, it signs with the new keys, no restart.
        _copy_keys(keys, other_keys)
        _eventually(lambda: other_host.get("/readyz")[0] == 200, "the other host to be ready")
        award = other_host.award(token)
        assert award["credential"]["proof"][0]["verificationMethod"] in new_kids
        assert first.verified(award) == [True] * 3
    finally:
        for host in hosts:
            host.stop()


def test_a_rotation_whose_key_cannot_be_published_changes_nothing(
    one_service: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    environment, _ = one_service
    keys = Path(environment["ISSUER_KEYS_DIR"])
    before = sorted(path.name for path in keys.iterdir())
    manifest = (keys / keyring.MANIFEST_NAME).read_bytes()
    gone = {**environment, "ISSUER_DATABASE_URL": f"sqlite:///{tmp_path / 'none' / 'x.db'}"}
    done = subprocess.run(  # noqa: S603 - our own program, no shell
        [BIN / "issuer", "keys", "rotate", "EdDSA"],
        cwd=ROOT,
        env=gone,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "keys_not_published" in done.stderr
    assert sorted(path.name for path in keys.iterdir()) == before
    assert (keys / keyring.MANIFEST_NAME).read_bytes() == manifest


def test_a_changed_key_set_that_cannot_be_loaded_keeps_the_keys_in_use(
    one_service: tuple[dict[str, str], str],
) -> None:
    environment, _ = one_service
    app = _app(environment)
    services = _services(app)
    in_use = services.keyring().signing_key("EdDSA").kid
    keys = Path(environment["ISSUER_KEYS_DIR"])
    manifest = keys / keyring.MANIFEST_NAME
    text = manifest.read_text()
    os.replace(_write(keys / ".broken", "{not json"), manifest)
    assert services.keyring().signing_key("EdDSA").kid == in_use
    checks = services.readiness()
    assert checks["keys"] == "manifest_invalid"
    os.replace(_write(keys / ".fixed", text), manifest)
    assert services.keyring().signing_key("EdDSA").kid == in_use
    assert services.readiness()["keys"] == "ok"
    services.db.dispose()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_rotate_publishes_before_the_manifest_activates(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keyring.generate_missing(keys, PASSPHRASE.encode())
    active_then: list[str] = []

    def publish(alg: str, public_key: object, created: object) -> None:
        manifest = json.loads((keys / keyring.MANIFEST_NAME).read_text())
        active_then.extend(
            entry["name"] for entry in manifest["keys"] if entry["status"] == "active"
        )

    old = json.loads((keys / keyring.MANIFEST_NAME).read_text())
    keyring.rotate(keys, PASSPHRASE.encode(), "EdDSA", publish=publish)
    assert sorted(active_then) == sorted(entry["name"] for entry in old["keys"])

    def refuse(alg: str, public_key: object, created: object) -> None:
        raise KeyringError("keys_not_published", "no database")

    files = sorted(path.name for path in keys.iterdir())
    with pytest.raises(KeyringError):
        keyring.rotate(keys, PASSPHRASE.encode(), "EdDSA", publish=refuse)
    assert sorted(path.name for path in keys.iterdir()) == files
