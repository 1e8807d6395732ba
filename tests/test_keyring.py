"""The keyring: generation, encryption at rest, refusals, rotation."""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from issuer import keyring
from issuer.errors import KeyringError

PASSPHRASE = b"correct horse battery staple"
CONTROLLER = "did:web:127.0.0.1%3A5000"


@pytest.fixture(scope="module")
def encrypted_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One encrypted key set per module: RSA 3072 generation takes a while."""
    keys_dir = tmp_path_factory.mktemp("encrypted") / "keys"
    keyring.generate_missing(keys_dir, PASSPHRASE)
    return keys_dir


@pytest.fixture(scope="module")
def plain_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keys_dir = tmp_path_factory.mktemp("plain") / "keys"
    keyring.generate_missing(keys_dir, None)
    return keys_dir


@pytest.fixture
def keys_copy(encrypted_keys: Path, tmp_path: Path) -> Path:
    """A private copy of the encrypted set (modes kept) for tests that change it."""
    target = tmp_path / "keys"
    shutil.copytree(encrypted_keys, target)
    return target


@pytest.fixture
def plain_copy(plain_keys: Path, tmp_path: Path) -> Path:
    target = tmp_path / "plain-keys"
    shutil.copytree(plain_keys, target)
    return target


@pytest.fixture
def zero_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def load(keys_dir: Path, passphrase: bytes | None = PASSPHRASE, **options: bool) -> keyring.Keyring:
    return keyring.Keyring.load(
        keys_dir,
        passphrase,
        controller=CONTROLLER,
        allow_unencrypted=options.get("allow_unencrypted", False),
    )


def manifest(keys_dir: Path) -> dict:
    return json.loads((keys_dir / keyring.MANIFEST_NAME).read_text())


def private_files(keys_dir: Path) -> list[Path]:
    return sorted(keys_dir.glob("*.key.pem"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generate_creates_one_encrypted_key_per_algorithm(encrypted_keys: Path) -> None:
    entries = manifest(encrypted_keys)["keys"]
    assert sorted(entry["alg"] for entry in entries) == sorted(keyring.ALGORITHMS)
    assert {entry["status"] for entry in entries} == {"active"}
    assert len(private_files(encrypted_keys)) == 3
    for path in private_files(encrypted_keys):
        # Only the passphrase opens it.
        with pytest.raises(TypeError, match="encrypted"):
            serialization.load_pem_private_key(path.read_bytes(), password=None)


def test_files_are_private_whatever_the_umask(tmp_path: Path, zero_umask: None) -> None:
    keys_dir = tmp_path / "keys"
    # A checkout gives keys/ (it holds the README) the usual 0755; generation tightens it.
    keys_dir.mkdir(mode=0o755)
    os.chmod(keys_dir, 0o755)  # noqa: S103
    keyring.generate_missing(keys_dir, PASSPHRASE)
    assert mode(keys_dir) == 0o700
    for path in private_files(keys_dir):
        assert mode(path) == 0o600
    assert not list(keys_dir.glob(".*.tmp"))


def test_generate_again_creates_nothing(keys_copy: Path) -> None:
    before = {path.name: path.read_bytes() for path in keys_copy.iterdir()}
    assert keyring.generate_missing(keys_copy, PASSPHRASE) == []
    assert {path.name: path.read_bytes() for path in keys_copy.iterdir()} == before


def test_generate_adds_only_the_missing_kind(keys_copy: Path) -> None:
    document = manifest(keys_copy)
    document["keys"] = [entry for entry in document["keys"] if entry["alg"] != "ES256"]
    (keys_copy / keyring.MANIFEST_NAME).write_text(json.dumps(document))
    created = keyring.generate_missing(keys_copy, PASSPHRASE)
    assert [key.alg for key in created] == ["ES256"]
    assert created[0].encrypted
    assert load(keys_copy).signing_key("ES256").kid == created[0].kid(CONTROLLER)


def test_generate_refuses_a_second_passphrase(keys_copy: Path) -> None:
    document = manifest(keys_copy)
    document["keys"] = [entry for entry in document["keys"] if entry["alg"] != "ES256"]
    (keys_copy / keyring.MANIFEST_NAME).write_text(json.dumps(document))
    with pytest.raises(KeyringError) as raised:
        keyring.generate_missing(keys_copy, b"another passphrase")
    assert raised.value.code == "wrong_passphrase"


def test_generate_refuses_an_empty_passphrase(tmp_path: Path) -> None:
    with pytest.raises(KeyringError) as raised:
        keyring.generate_missing(tmp_path / "keys", b"")
    assert raised.value.code == "passphrase_empty"


def test_load_gives_each_algorithm_its_key(encrypted_keys: Path) -> None:
    ring = load(encrypted_keys)
    eddsa, rs256, es256 = (ring.signing_key(alg) for alg in keyring.ALGORITHMS)
    assert isinstance(eddsa.private_key, ed25519.Ed25519PrivateKey)
    assert isinstance(rs256.private_key, rsa.RSAPrivateKey)
    assert rs256.private_key.key_size == 3072
    assert isinstance(es256.private_key, ec.EllipticCurvePrivateKey)
    assert isinstance(es256.private_key.curve, ec.SECP256R1)
    assert eddsa.kid.startswith(f"{CONTROLLER}#z6Mk")
    for key in (eddsa, rs256, es256):
        assert key.encrypted
        assert key.kid.startswith(f"{CONTROLLER}#")
        assert key.private_key.public_key() == key.public_key
        assert ring.find(key.kid).public_key == key.public_key


def test_kids_are_stable_across_loads(encrypted_keys: Path) -> None:
    first = [key.kid for key in load(encrypted_keys).public_keys()]
    second = [key.kid for key in load(encrypted_keys).public_keys()]
    assert first == second
    assert len(set(first)) == 3


def test_kid_follows_the_controller(encrypted_keys: Path) -> None:
    ring = keyring.Keyring.load(
        encrypted_keys, PASSPHRASE, controller="did:web:badges.example.org", allow_unencrypted=False
    )
    fragments = {key.fragment for key in load(encrypted_keys).public_keys()}
    assert {key.kid for key in ring.public_keys()} == {
        f"did:web:badges.example.org#{fragment}" for fragment in fragments
    }


def test_reprs_and_descriptions_hold_no_key_material(encrypted_keys: Path) -> None:
    ring = load(encrypted_keys)
    lines = ring.describe()
    assert len(lines) == 3
    assert lines[0].startswith("EdDSA z6Mk") and lines[0].endswith(" active (encrypted)")
    texts = [*lines, *(repr(ring.signing_key(alg)) for alg in keyring.ALGORITHMS)]
    for text in texts:
        assert "PRIVATE" not in text
        assert "private_key" not in text


def test_unknown_algorithm_and_unknown_kid(encrypted_keys: Path) -> None:
    ring = load(encrypted_keys)
    with pytest.raises(KeyringError) as raised:
        ring.signing_key("HS256")
    assert raised.value.code == "unknown_algorithm"
    with pytest.raises(KeyringError) as raised:
        ring.find(f"{CONTROLLER}#nope")
    assert raised.value.code == "unknown_key"


@pytest.mark.parametrize(
    ("passphrase", "code"),
    [(b"wrong passphrase", "wrong_passphrase"), (None, "passphrase_required")],
)
def test_load_refuses_without_the_right_passphrase(
    encrypted_keys: Path, passphrase: bytes | None, code: str
) -> None:
    with pytest.raises(KeyringError) as raised:
        load(encrypted_keys, passphrase)
    assert raised.value.code == code
    assert "ISSUER_KEY_PASSPHRASE" in raised.value.message


def test_load_refuses_unencrypted_keys_in_production(plain_keys: Path) -> None:
    with pytest.raises(KeyringError) as raised:
        load(plain_keys, None)
    assert raised.value.code == "key_unencrypted"
    assert "ISSUER_KEY_PASSPHRASE" in raised.value.message


def test_load_allows_unencrypted_keys_in_development_with_a_warning(
    plain_keys: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="issuer.keyring"):
        ring = load(plain_keys, None, allow_unencrypted=True)
    assert not ring.signing_key("RS256").encrypted
    warnings = [r for r in caplog.records if r.name == "issuer.keyring"]
    assert len(warnings) == 3
    assert all(record.levelno == logging.WARNING for record in warnings)
    assert all("not encrypted" in record.getMessage() for record in warnings)
    assert all("BEGIN" not in record.getMessage() for record in warnings)
    assert "NOT encrypted" in ring.describe()[0]


@pytest.mark.parametrize("loose_mode", [0o640, 0o604, 0o620])
def test_load_refuses_a_key_file_others_can_reach(keys_copy: Path, loose_mode: int) -> None:
    path = private_files(keys_copy)[0]
    os.chmod(path, loose_mode)
    with pytest.raises(KeyringError) as raised:
        load(keys_copy)
    assert raised.value.code == "key_file_permissions"
    assert "chmod 600" in raised.value.message


def test_load_refuses_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(KeyringError) as raised:
        load(tmp_path)
    assert raised.value.code == "key_missing"
    assert "issuer init" in raised.value.message


def test_load_refuses_a_missing_kind(keys_copy: Path) -> None:
    document = manifest(keys_copy)
    document["keys"] = [entry for entry in document["keys"] if entry["alg"] != "RS256"]
    (keys_copy / keyring.MANIFEST_NAME).write_text(json.dumps(document))
    with pytest.raises(KeyringError) as raised:
        load(keys_copy)
    assert raised.value.code == "key_missing"


def test_load_refuses_a_missing_private_file(keys_copy: Path) -> None:
    private_files(keys_copy)[0].unlink()
    with pytest.raises(KeyringError) as raised:
        load(keys_copy)
    assert raised.value.code == "key_missing"


def test_load_refuses_mismatched_halves(keys_copy: Path) -> None:
    document = manifest(keys_copy)
    es256 = next(entry["name"] for entry in document["keys"] if entry["alg"] == "ES256")
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    (keys_copy / f"{es256}.pub.pem").write_bytes(
        other.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(KeyringError) as raised:
        load(keys_copy)
    assert raised.value.code == "key_mismatch"


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda document: "not json",
        lambda document: json.dumps({**document, "format": 2}),
        lambda document: json.dumps({"format": 1}),
        lambda document: json.dumps(
            {**document, "keys": [{**document["keys"][0], "name": "../../etc/passwd"}]}
        ),
        lambda document: json.dumps(
            {**document, "keys": [{**document["keys"][0], "alg": "HS256"}]}
        ),
        lambda document: json.dumps({**document, "keys": document["keys"] * 2}),
    ],
    ids=["not-json", "format", "no-keys", "path-in-name", "unknown-alg", "duplicate"],
)
def test_load_refuses_a_broken_manifest(keys_copy: Path, corrupt) -> None:
    path = keys_copy / keyring.MANIFEST_NAME
    path.write_text(corrupt(json.loads(path.read_text())))
    with pytest.raises(KeyringError) as raised:
        load(keys_copy)
    assert raised.value.code == "manifest_invalid"


def test_rotation_retires_the_old_key_and_keeps_its_public_half(keys_copy: Path) -> None:
    before = load(keys_copy)
    old = before.signing_key("ES256")
    created = keyring.rotate(keys_copy, PASSPHRASE, "ES256")
    after = load(keys_copy)

    new = after.signing_key("ES256")
    assert new.kid == created.kid(CONTROLLER) != old.kid
    assert new.encrypted
    retired = after.find(old.kid)
    assert retired.status == "retired"
    assert retired.public_key == old.public_key
    assert [key.kid for key in after.public_keys()] == [
        before.signing_key("EdDSA").kid,
        before.signing_key("RS256").kid,
        new.kid,
        old.kid,
    ]
    assert after.signing_key("RS256").kid == before.signing_key("RS256").kid
    assert len(private_files(keys_copy)) == 3
    assert len(list(keys_copy.glob("p256-*.pub.pem"))) == 2
    statuses = {entry["name"]: entry["status"] for entry in manifest(keys_copy)["keys"]}
    assert sorted(statuses.values()) == ["active", "active", "active", "retired"]
    assert "retired" in after.describe()[-1]


def test_rotating_twice_keeps_every_old_kid(keys_copy: Path) -> None:
    old = load(keys_copy).signing_key("EdDSA").kid
    keyring.rotate(keys_copy, PASSPHRASE, "EdDSA")
    middle = load(keys_copy).signing_key("EdDSA").kid
    keyring.rotate(keys_copy, PASSPHRASE, "EdDSA")
    ring = load(keys_copy)
    eddsa = [key for key in ring.public_keys() if key.alg == "EdDSA"]
    assert [key.status for key in eddsa] == ["active", "retired", "retired"]
    assert [key.kid for key in eddsa[1:]] == [middle, old]


def test_rotation_refuses_the_wrong_passphrase_and_changes_nothing(keys_copy: Path) -> None:
    before = {path.name: path.read_bytes() for path in keys_copy.iterdir()}
    with pytest.raises(KeyringError) as raised:
        keyring.rotate(keys_copy, b"wrong passphrase", "ES256")
    assert raised.value.code == "wrong_passphrase"
    assert {path.name: path.read_bytes() for path in keys_copy.iterdir()} == before


def test_rotation_refuses_an_unknown_kind(keys_copy: Path) -> None:
    with pytest.raises(KeyringError) as raised:
        keyring.rotate(keys_copy, PASSPHRASE, "HS256")
    assert raised.value.code == "unknown_algorithm"


def test_rotation_never_overwrites_a_key(keys_copy: Path) -> None:
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    keyring.rotate(keys_copy, PASSPHRASE, "ES256", now=moment)
    before = {path.name: path.read_bytes() for path in keys_copy.iterdir()}
    with pytest.raises(KeyringError) as raised:
        keyring.rotate(keys_copy, PASSPHRASE, "ES256", now=moment)
    assert raised.value.code == "key_exists"
    assert {path.name: path.read_bytes() for path in keys_copy.iterdir()} == before


def test_rotation_moves_an_unencrypted_key_to_encryption(plain_copy: Path) -> None:
    created = keyring.rotate(plain_copy, PASSPHRASE, "ES256")
    assert created.encrypted
    ring = load(plain_copy, PASSPHRASE, allow_unencrypted=True)
    assert ring.signing_key("ES256").encrypted
    assert not ring.signing_key("EdDSA").encrypted


def test_load_warns_about_a_retired_private_key_left_behind(
    keys_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old_name = next(e["name"] for e in manifest(keys_copy)["keys"] if e["alg"] == "ES256")
    kept = (keys_copy / f"{old_name}.key.pem").read_bytes()
    keyring.rotate(keys_copy, PASSPHRASE, "ES256")
    descriptor = os.open(keys_copy / f"{old_name}.key.pem", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(kept)
    with caplog.at_level(logging.WARNING, logger="issuer.keyring"):
        load(keys_copy)
    assert any("retired" in record.getMessage() for record in caplog.records)
    keyring.rotate(keys_copy, PASSPHRASE, "ES256")
    assert not (keys_copy / f"{old_name}.key.pem").exists()
