"""Helpers shared by the workspace tests: accounts, signing in, reading CSRF tokens, counting
credentials."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from issuer.storage.models import IssuedCredential

ACHIEVEMENT = "computer-user-support-specialists/proficient"
HTML = {"Accept": "text/html"}


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    token: str
    id: int


def make_account(
    app: Flask,
    email: str,
    *,
    levels: tuple[str, ...] = (),
    all_levels: bool = False,
    is_admin: bool = False,
) -> Account:
    """A new account whose one-time password was used and replaced by a chosen one (the
    returned password), as after the assessor's first sign-in."""
    assessors = app.extensions["issuer"].assessors
    created = assessors.add(
        email,
        name=email.split("@")[0].title(),
        levels=levels,
        all_levels=all_levels,
        is_admin=is_admin,
    )
    first = assessors.sign_in(email, created.password, address="first sign-in")
    chosen = f"chosen {created.password}"
    assessors.choose_password(first, chosen)
    return Account(email, chosen, created.token, created.principal.id)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client: FlaskClient, account: Account) -> str:
    """Sign in; returns the session's CSRF token."""
    page = client.get("/assess/login", headers=HTML)
    response = client.post(
        "/assess/login",
        data={
            "email": account.email,
            "password": account.password,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_from(client.get("/assess/", headers=HTML).get_data(as_text=True))


def issued_count(app: Flask) -> int:
    """How many credentials are stored."""
    with app.extensions["issuer"].db.read() as session:
        return session.scalar(select(func.count()).select_from(IssuedCredential)) or 0
