"""Real wallet clients from npm against a live server: ``tests/node/wallet.mjs`` (Credo's
OpenID4VCI libraries, Digital Bazaar's DIDAuth stack as the LCW uses it) takes the offers
from the earner's private page; what the wallets receive is then verified by the Node
verifier (``tests/node/verify.mjs``) and openbadgeslib, and must carry the holder's DID.

Skips without node or ``tests/node/node_modules`` (fails under ``CI=true``), as
``test_node_oracle`` does, whose fixtures give the server a base URL that is its own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from oracles import openbadgeslib_verify
from sqlalchemy import select
from test_node_oracle import (
    _oracle,
    app_config,
    live_server,
    node,
    port,
    run_node,
)
from test_wallet import jwt_payload, offers_on, private_page

from issuer.storage.models import WalletClaim

__all__ = ["app_config", "live_server", "node", "port"]


def _wallets(node: str, job: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = run_node(node, "wallet.mjs", job)
    return result


def test_real_wallet_clients_receive_holder_bound_credentials_that_verify(
    node: str, app: Flask, live_server: str, assessor_token: str
) -> None:
    client = app.test_client()
    award = client.post(
        "/api/v1/awards",
        headers={"Authorization": f"Bearer {assessor_token}"},
        json={
            "achievement": "computer-user-support-specialists/proficient",
            "recipient": {"email": "wallet@example.org", "name": "Wallet Holder"},
        },
    ).json
    first = offers_on(private_page(app, client, award["id"]))
    second = offers_on(private_page(app, client, award["id"]))
    lcw_link = first["lcw_link"]
    assert urlsplit(lcw_link).netloc == "lcw.app"
    job = {
        "openid4vci": {"offer": first["openid"], "txCode": first["tx_code"]},
        "lcw": lcw_link,
        "exchange": live_server + second["exchange_path"],
    }

    received = _wallets(node, job)

    with app.extensions["issuer"].db.read() as session:
        tokens = {row.id: row.jwt for row in session.scalars(select(WalletClaim))}
    ldp, token = received["openid4vci"]["ldp"], received["openid4vci"]["jwt"]
    assert ldp["credential"]["credentialSubject"]["id"] == ldp["holder"]
    assert jwt_payload(token["credential"])["sub"] == token["holder"]
    entries = [
        {"name": "openid4vci-ldp", "json": ldp["credential"]},
        {"name": "openid4vci-jwt", "jwt": token["credential"]},
    ]
    for name in ("lcw", "vcApi"):
        credential = received[name]["credential"]
        assert credential["credentialSubject"]["id"] == received[name]["holder"]
        copy_id = credential["id"].rsplit("/", 1)[1]
        entries.append({"name": name, "json": credential, "jwt": tokens[copy_id]})
        openbadgeslib_verify(client, credential, tokens[copy_id])
    assert len(tokens) == 4  # four wallet keys, four copies
    for credential in [ldp["credential"], received["lcw"]["credential"]]:
        assert credential["credentialStatus"] == award["credential"]["credentialStatus"]

    answers = _oracle(node, live_server, entries)
    for entry in entries:
        for form, result in answers[entry["name"]].items():
            assert result["verified"], (entry["name"], form, result)
            assert result["status"]["checked"] and result["status"]["revoked"] is False

    client.post(
        f"/api/v1/credentials/{award['id']}/revoke",
        json={"reason": "Awarded in error."},
        headers={"Authorization": f"Bearer {assessor_token}"},
    )
    after = _oracle(node, live_server, entries)
    for entry in entries:
        for result in after[entry["name"]].values():
            assert result["status"]["revoked"] is True, entry["name"]
