"""The fast canonicalization path against the reference (pyld): the same N-Quads or the same
refusal, on every template of every framework and on generated awards.

The reference is ``data_integrity.pyld_rdfc``, an independent run of pyld on the whole
document; the fast path compiles each skeleton with pyld once and fills values in.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import SHARED, shared_path

from issuer import status_list
from issuer.awarding import Award, Evidence, IssuerProfile, build_credential
from issuer.errors import CanonicalizationError
from issuer.frameworks import build_templates, load_framework
from issuer.proofs import data_integrity, fast_canonical
from issuer.proofs.data_integrity import canonicalize

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORK_FILES = sorted(
    {
        path.name: path
        for path in [*(SHARED / "frameworks").glob("*.json"), *(ROOT / "frameworks").glob("*.json")]
    }.values()
)
TEMPLATES = [
    (f"{path.stem}/{level}", template)
    for path in FRAMEWORK_FILES
    for level, template in build_templates(load_framework(path)).items()
]
ISSUER = IssuerProfile(
    id="did:web:badges.example.test", name="Example Issuer", url="https://badges.example.test"
)
BASE_URL = "https://badges.example.test"
OUR_VECTORS = Path(__file__).resolve().parent / "vectors" / "eddsa-rdfc-2022"


def _outcome(document: dict[str, Any], canonicalizer: Any) -> tuple[str, str]:
    try:
        return "nquads", canonicalizer(document)
    except CanonicalizationError as error:
        return "refused", error.code


def _reference_sha384(document: dict[str, Any]) -> str:
    return canonicalize(document, engine=data_integrity.pyld_rdfc_sha384)


def _same_as_reference(document: dict[str, Any]) -> str:
    reference = _outcome(document, canonicalize)
    assert _outcome(document, fast_canonical.canonicalize) == reference
    assert _outcome(document, fast_canonical.canonicalize_sha384) == _outcome(
        document, _reference_sha384
    )
    return reference[1]


def _credential(template: dict[str, Any], award: Award, *, index: int = 4321) -> dict[str, Any]:
    credential = build_credential(
        template,
        award,
        issuer=ISSUER,
        base_url=BASE_URL,
        now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        credential_id=uuid.UUID(int=7),
        subject_id=uuid.UUID(int=8),
        salt="0123456789abcdef0123456789abcdef",
    )
    credential["credentialStatus"] = status_list.status_entry(f"{BASE_URL}/status/1", index)
    return credential


def _first_template_credential(*evidence: Evidence) -> dict[str, Any]:
    """A credential of the first template, for an earner with only an e-mail address."""
    name, template = TEMPLATES[0]
    award = Award(achievement=name, recipient_email="a@example.org", evidence=evidence)
    return _credential(template, award)


def _handled_by_fast_path(document: dict[str, Any]) -> bool:
    split = fast_canonical.split_document(document)
    return split is not None and fast_canonical.compiled_skeleton(split[0]) is not None


@pytest.mark.parametrize(("name", "template"), TEMPLATES, ids=[name for name, _ in TEMPLATES])
def test_every_template_canonicalizes_alike_and_takes_the_fast_path(
    name: str, template: dict[str, Any]
) -> None:
    full = Award(
        achievement=name,
        recipient_email="grace@example.org",
        recipient_name="Grace Hopper",
        evidence=(
            Evidence(narrative="Fixed the\nprinter.", url="https://example.org/e", name="E"),
        ),
        valid_until=datetime(2030, 1, 1, tzinfo=UTC),
    )
    bare = Award(achievement=name, recipient_email="grace@example.org")
    for award in (full, bare):
        credential = _credential(template, award)
        assert _handled_by_fast_path(credential)
        nquads = _same_as_reference(credential)
        assert nquads.count("\n") > 20
    proof_configuration = {
        "@context": _credential(template, bare)["@context"],
        "type": "DataIntegrityProof",
        "created": "2026-01-02T03:04:05Z",
        "verificationMethod": "did:web:badges.example.test#key-1",
        "cryptosuite": "eddsa-rdfc-2022",
        "proofPurpose": "assertionMethod",
    }
    assert _handled_by_fast_path(proof_configuration)
    _same_as_reference(proof_configuration)


_ANY_TEXT = st.text(min_size=0, max_size=80)
_URLS = st.one_of(
    st.builds(
        lambda scheme, path: f"{scheme}://example.org/{path}",
        st.sampled_from(["http", "https"]),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    ),
    st.uuids().map(lambda value: value.urn),
    st.sampled_from(
        ["urn:uuid:not-a-uuid", "did:web:example.org", "mailto:a@example.org", "relative/path"]
    ),
    _ANY_TEXT,
)
_EVIDENCE = st.builds(
    Evidence,
    narrative=st.one_of(st.none(), _ANY_TEXT),
    url=st.one_of(st.none(), _URLS),
    name=st.one_of(st.none(), _ANY_TEXT),
)


@st.composite
def _awards(draw: st.DrawFn) -> tuple[dict[str, Any], Award, int]:
    name, template = draw(st.sampled_from(TEMPLATES))
    count = len(template["achievement"]["resultDescription"])
    statements = draw(
        st.one_of(
            st.none(),
            st.lists(st.integers(0, count - 1), min_size=count, max_size=count, unique=True),
            st.sets(st.integers(0, count - 1), min_size=1).map(lambda chosen: tuple(chosen)),
        )
    )
    template = {**template, "requiredStatements": 0}
    award = Award(
        achievement=name,
        recipient_email=draw(st.emails()),
        recipient_name=draw(st.one_of(st.none(), _ANY_TEXT)),
        statements=tuple(statements) if statements is not None else None,
        evidence=tuple(draw(st.lists(_EVIDENCE, max_size=4))),
        valid_until=draw(
            st.one_of(
                st.none(),
                st.datetimes(
                    min_value=datetime(2027, 1, 1),
                    max_value=datetime(2999, 1, 1),
                    timezones=st.just(UTC),
                ),
            )
        ),
    )
    return template, award, draw(st.integers(0, 131071))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_awards())
def test_generated_awards_canonicalize_alike(drawn: tuple[dict[str, Any], Award, int]) -> None:
    template, award, index = drawn
    _same_as_reference(_credential(template, award, index=index))


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["name", "description", "narrative", "id", "validFrom", "url"]),
        st.one_of(_ANY_TEXT, _URLS, st.integers(), st.booleans(), st.none()),
    )
)
def test_changed_values_anywhere_canonicalize_alike(changes: dict[str, Any]) -> None:
    credential = _first_template_credential()
    for key, value in changes.items():
        credential["credentialSubject"]["achievement"][key] = value
        credential[key] = value
    _same_as_reference(credential)


def test_equal_evidence_items_share_a_first_degree_hash_and_go_to_urdna2015() -> None:
    same = Evidence(narrative="Same.")
    credential = _first_template_credential(same, same)
    assert _handled_by_fast_path(credential)
    _same_as_reference(credential)


def test_two_equal_statements_of_a_blank_node_count_once_in_its_hash() -> None:
    # Two slots, equal values: one statement, whose first-degree line must count once
    # (counted twice, this document's blank nodes come out labelled in another order).
    credential = _first_template_credential(Evidence(narrative="One."), Evidence(narrative="Two."))
    credential["evidence"][0]["name"] = ["Same", "Same"]
    assert _handled_by_fast_path(credential)
    _same_as_reference(credential)


def test_one_iri_in_two_places_is_one_node() -> None:
    itself = f"{BASE_URL}/credentials/{uuid.UUID(int=7)}"
    credential = _first_template_credential(Evidence(url=itself, name="Itself"))
    _same_as_reference(credential)


@pytest.mark.parametrize(
    "document",
    [
        {"@context": [{"name": "https://example.org/name"}], "name": "x"},
        {"@context": "https://www.w3.org/ns/credentials/v2", "credentialSubject": {"@context": {}}},
    ],
)
def test_documents_with_their_own_contexts_go_the_reference_way(document: dict[str, Any]) -> None:
    assert fast_canonical.split_document(document) is None


def test_numbers_that_print_differently_never_share_a_compiled_skeleton() -> None:
    # Each is compiled or looked up after the one before: 0.0 and -0.0 are equal in
    # Python, and so are 1, 1.0 and True, but pyld may write each its own way.
    for credits in (0.0, -0.0, 1, 1.0, True, 0.5):
        credential = _first_template_credential()
        credential["credentialSubject"]["achievement"]["creditsAvailable"] = credits
        assert _handled_by_fast_path(credential)
        _same_as_reference(credential)


@pytest.mark.parametrize(
    "change",
    [
        lambda subject: subject.update(type=("AchievementSubject",)),  # a tuple, not a list
        lambda subject: subject.update({1: "a key that is not a string"}),
        lambda subject: subject["achievement"].update(creditsAvailable=float("nan")),
        lambda subject: subject["achievement"].update(name=b"bytes"),
        lambda subject: subject.update({"\x00": {"\x00": "literal"}}),
        lambda subject: subject["identifier"][0].update(salt="a\x01b"),
        lambda subject: subject["achievement"].update(id="relative/id"),
    ],
)
def test_documents_that_are_not_plain_json_or_unfit_are_refused_alike(change: Any) -> None:
    credential = _first_template_credential()
    change(credential["credentialSubject"])
    assert _same_as_reference(credential) in {
        "not_json",
        "control_character",
        "relative_iri",
    }


def test_a_skeleton_pyld_refuses_is_remembered_and_its_documents_refused_alike() -> None:
    credential = _first_template_credential()
    credential["credentialStatus"]["statusListCredential"] = "relative/list"
    assert not _handled_by_fast_path(credential)
    assert _same_as_reference(credential) == "relative_iri"


def test_our_golden_vector_and_the_1edtech_vector_reproduce_through_the_fast_path() -> None:
    oneedtech = shared_path("conformance", "ob3", "test-vectors", "eddsa-rdfc-2022", "ob3")
    for folder in (OUR_VECTORS, oneedtech):
        unsigned = json.loads((folder / "unsigned-credential.json").read_text())
        expected = json.loads((folder / "expected.json").read_text())
        document = fast_canonical.canonicalize(unsigned)
        assert document.encode() == (folder / "document-canon.nq").read_bytes()
        assert hashlib.sha256(document.encode()).hexdigest() == expected["documentHashHex"]


def test_escaping_matches_pyld() -> None:
    from pyld.nquads import escape

    for text in ["a\\tb", '"\\"', "\n\r\t\\", "plain", "\\\\n"]:
        assert fast_canonical.escape_literal(text) == escape(text)


def test_a_signature_made_with_the_fast_path_verifies_with_the_reference() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    name, template = TEMPLATES[-1]
    key = Ed25519PrivateKey.generate()
    credential = _credential(template, Award(achievement=name, recipient_email="a@example.org"))
    signed = data_integrity.add_proof(
        credential,
        private_key=key,
        verification_method="did:web:badges.example.test#key-1",
        created=datetime.now(UTC) - timedelta(seconds=1),
        canonicalizer=fast_canonical.canonicalize,
    )
    data_integrity.verify_proof(signed, key.public_key())


def test_a_remembered_literal_with_a_control_character_is_refused_each_time() -> None:
    # The first document teaches the memo the value; the second is refused by the memo.
    for _ in range(2):
        credential = _first_template_credential()
        credential["credentialSubject"]["achievement"]["name"] = "Tab\tand\x0bvertical tab"
        assert _handled_by_fast_path(credential)
        assert _same_as_reference(credential) == "control_character"


def test_the_string_memo_starts_over_once_it_holds_its_characters() -> None:
    memo = fast_canonical._StringMemo(10)
    memo.put("abcd", 1)
    memo.put("efgh", 2)
    assert memo.entries == {"abcd": 1, "efgh": 2}
    memo.put("ijkl", 3)
    assert memo.entries == {"ijkl": 3}
