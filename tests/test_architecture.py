"""Who may import what: the layering of STYLE.md, checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "issuer"

# Module (dotted, relative to the package) prefixes allowed to import each thing.
ALLOWED = {
    "flask": ("__init__", "web", "cli"),
    "werkzeug": ("__init__", "web"),
    "jwt": ("proofs",),
    "pyld": ("proofs",),
    "load_pem_private_key": ("keyring",),
    "load_der_private_key": ("keyring",),
    "sqlalchemy": (
        "storage",
        "assessors",
        "issuance",
        "revocation",
        "earner",
        "mail",
        "audit",
        "bulk",
        "issued",
        "wallet",
        "backup",
        "key_publication",
    ),
}


def _modules() -> list[tuple[str, ast.Module]]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        modules.append((name, ast.parse(path.read_text("utf-8"))))
    return modules


def _imported_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Attribute) and node.attr.startswith("load_"):
            # Key loaders reached as attributes (serialization.load_pem_private_key).
            names.add(node.attr)
    return names


@pytest.mark.parametrize("thing", sorted(ALLOWED))
def test_only_the_owning_modules_use(thing: str) -> None:
    offenders = [
        name
        for name, tree in _modules()
        if thing in _imported_names(tree) and not name.startswith(ALLOWED[thing])
    ]
    assert offenders == [], f"{thing} is used outside {ALLOWED[thing]}: {offenders}"


def test_the_check_sees_the_owners() -> None:
    users = {name for name, tree in _modules() if "jwt" in _imported_names(tree)}
    assert "proofs.vc_jwt" in users
