"""Constants and helpers the tests share (imported by name; conftest.py only holds fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFORMANCE = SHARED / "conformance" / "ob3"
TEMPLATES_DIR = ROOT / "badge_templates"
PASSPHRASE = "correct horse battery staple"
BASE_URL = "https://badges.example.test"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared conformance data is not checked out here")
    return path
