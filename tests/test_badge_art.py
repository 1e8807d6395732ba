"""Badge art: deterministic, distinct per level, safe, accessible SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.badge_art import PALETTE, STAR_COLOUR, TEXT_COLOUR, caption_for, render_badge_svg

SVG = "{http://www.w3.org/2000/svg}"
OCCUPATION = "Computer User Support Specialists"
LEVELS = ["Emerging", "Developing", "Proficient", "Advanced"]


def _parse(svg: str) -> ET.Element:
    # The SVG parsed here is our own output, not untrusted input.
    return ET.fromstring(svg)  # noqa: S314


def _relative_luminance(colour: str) -> float:
    channels = [int(colour[index : index + 2], 16) / 255 for index in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(first: str, second: str) -> float:
    lighter, darker = sorted(
        (_relative_luminance(first), _relative_luminance(second)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


def _badges(level_count: int) -> list[str]:
    return [
        render_badge_svg(OCCUPATION, f"Level name {rank}", rank, level_count)
        for rank in range(1, level_count + 1)
    ]


def _filled_stars(root: ET.Element) -> int:
    return sum(1 for polygon in root.iter(f"{SVG}polygon") if polygon.get("fill") == STAR_COLOUR)


def _texts(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}text"))


def test_rendering_is_deterministic() -> None:
    first = render_badge_svg(OCCUPATION, "Proficient", 3, 4)
    assert render_badge_svg(OCCUPATION, "Proficient", 3, 4) == first


@pytest.mark.parametrize("level_count", [1, 2, 4, 7, 12])
def test_every_rank_looks_different(level_count: int) -> None:
    badges = _badges(level_count)
    assert len(set(badges)) == level_count
    for rank, badge in enumerate(badges, start=1):
        root = _parse(badge)
        assert _filled_stars(root) == rank
        assert root.find(f"{SVG}circle").get("fill") == PALETTE[(rank - 1) % len(PALETTE)]


def test_palette_colours_are_distinct_within_a_framework_of_its_size() -> None:
    fills = [_parse(badge).find(f"{SVG}circle").get("fill") for badge in _badges(len(PALETTE))]
    assert len(set(fills)) == len(PALETTE)


@pytest.mark.parametrize("fill", PALETTE)
def test_text_meets_wcag_aa_contrast_on_every_fill(fill: str) -> None:
    assert _contrast(TEXT_COLOUR, fill) >= 4.5
    # The stars are graphics: WCAG asks 3:1 for the parts needed to understand them.
    assert _contrast(STAR_COLOUR, fill) >= 3


@pytest.mark.parametrize(("rank", "label"), list(enumerate(LEVELS, start=1)))
def test_badge_is_an_accessible_self_contained_svg(rank: int, label: str) -> None:
    svg = render_badge_svg(OCCUPATION, label, rank, len(LEVELS))
    root = _parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 512 512"
    assert root.get("role") == "img"
    assert root[0].tag == f"{SVG}title"
    assert root[0].text == f"{OCCUPATION} \u2014 {label}"
    assert root[1].tag == f"{SVG}desc"
    assert root[1].text == caption_for(OCCUPATION, label, rank, len(LEVELS))
    assert len(svg.encode("utf-8")) < 6 * 1024
    shown = [text.text for text in _texts(root)]
    assert label in shown
    assert f"LEVEL {rank} OF {len(LEVELS)}" in shown


@pytest.mark.parametrize(("rank", "label"), list(enumerate(LEVELS, start=1)))
def test_level_name_is_large_enough_to_read_at_128_px(rank: int, label: str) -> None:
    root = _parse(render_badge_svg(OCCUPATION, label, rank, len(LEVELS)))
    label_text = next(text for text in _texts(root) if text.text == label)
    # 512 user units are shown in 128 px, so 56 units are 14 px (bold) on screen.
    assert int(label_text.get("font-size", "0")) >= 56
    assert label_text.get("font-weight") == "700"


def test_occupation_is_shown_across_lines() -> None:
    root = _parse(render_badge_svg(OCCUPATION, "Proficient", 3, 4))
    lines = [text.text or "" for text in _texts(root)]
    assert "Computer User" in lines
    assert "Support Specialists" in lines


def test_long_texts_are_shortened_but_kept_whole_in_the_title() -> None:
    occupation = (
        "Heating, Air Conditioning, and Refrigeration Mechanics and Installers of "
        "Exceptionally Large Industrial and Commercial Buildings Everywhere"
    )
    label = "Pneumonoultramicroscopicsilicovolcanoconiosis Practitioner Extraordinaire Level"
    svg = render_badge_svg(occupation, label, 2, 3)
    root = _parse(svg)
    assert root[0].text == f"{occupation} \u2014 {label}"
    shown = [text.text or "" for text in _texts(root)]
    assert any(line.endswith("\u2026") for line in shown)
    assert len(shown) <= 2 + 3 + 1
    assert len(svg.encode("utf-8")) < 6 * 1024


def test_special_characters_are_escaped() -> None:
    occupation = 'R&D <Operations> "Lead" Engineers\'s'
    svg = render_badge_svg(occupation, '<Top> & "Best"', 1, 2)
    assert "<Operations>" not in svg
    assert "<Top>" not in svg
    assert "&amp;" in svg
    assert "&quot;" in svg
    root = _parse(svg)
    assert root[0].text == f'{occupation} \u2014 <Top> & "Best"'


def test_characters_xml_cannot_hold_are_replaced() -> None:
    svg = render_badge_svg("Bad\ufffe Title\x07", "Level", 1, 1)
    root = _parse(svg)
    assert root[0].text == "Bad\ufffd Title\ufffd \u2014 Level"


def test_no_external_references() -> None:
    svg = render_badge_svg(OCCUPATION, "Advanced", 4, 4)
    assert re.findall(r"https?://[^\s\"'<>]*", svg) == ["http://www.w3.org/2000/svg"]
    for forbidden in ("<image", "<script", "href", "url(", "@import", "<style", "<foreignObject"):
        assert forbidden not in svg


@pytest.mark.parametrize(("rank", "level_count"), [(0, 4), (5, 4), (1, 0), (-1, 3)], ids=str)
def test_rank_outside_the_levels_is_refused(rank: int, level_count: int) -> None:
    with pytest.raises(ValueError, match="rank"):
        render_badge_svg(OCCUPATION, "Level", rank, level_count)


@pytest.mark.parametrize(("occupation", "label"), [("", "Level"), (OCCUPATION, "   ")])
def test_blank_texts_are_refused(occupation: str, label: str) -> None:
    with pytest.raises(ValueError, match="blank"):
        render_badge_svg(occupation, label, 1, 1)


def test_caption_names_occupation_level_and_rank() -> None:
    caption = caption_for(OCCUPATION, "Proficient", 3, 4)
    assert OCCUPATION in caption
    assert "Proficient" in caption
    assert "level 3 of 4" in caption


_PRINTABLE = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Zl", "Zp")), min_size=1, max_size=80
).filter(str.strip)


@given(occupation=_PRINTABLE, label=_PRINTABLE, level_count=st.integers(1, 12), data=st.data())
def test_any_text_gives_well_formed_svg(
    occupation: str, label: str, level_count: int, data: st.DataObject
) -> None:
    rank = data.draw(st.integers(1, level_count))
    svg = render_badge_svg(occupation, label, rank, level_count)
    root = _parse(svg)
    assert root[0].text == f"{occupation} \u2014 {label}"
    assert _filled_stars(root) == rank
