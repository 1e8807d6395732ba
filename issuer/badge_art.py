"""Badge art: one SVG per framework level, drawn from text alone.

The art is pure and deterministic (the committed templates embed it, and a re-import must
give the same bytes), so it uses only arithmetic on fixed numbers: no fonts by URL, no
trigonometry whose last digit could differ between C libraries, no clock and no randomness.
Each level gets a colour from a fixed palette indexed by its rank and a row of stars, as
many filled as its rank, so levels stay distinct in colour and in shape (for people who do
not see the colour difference). Text is white on dark fills with at least 4.5:1 contrast
(WCAG AA) and the level name is large enough to read when the badge is shown at 128 px.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

# Dark fills, one per rank (cycled when a framework has more levels than colours). Every
# one holds white text above 4.5:1; tests/test_badge_art.py checks the ratio.
PALETTE: tuple[str, ...] = (
    "#0F766E",  # teal
    "#1D4ED8",  # blue
    "#6D28D9",  # violet
    "#9F1239",  # crimson
    "#92400E",  # amber brown
    "#166534",  # green
    "#334155",  # slate
    "#86198F",  # magenta
)
TEXT_COLOUR = "#FFFFFF"
STAR_COLOUR = "#FDE047"
FONT_FAMILY = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"

_CENTRE = 256
# A five-pointed star of outer radius 1 centred on the origin (inner radius 0.45), its
# points written out so the drawing never depends on the platform's cos/sin.
_UNIT_STAR: tuple[tuple[float, float], ...] = (
    (0.0, -1.0),
    (0.2645, -0.3641),
    (0.9511, -0.309),
    (0.428, 0.139),
    (0.5878, 0.809),
    (0.0, 0.45),
    (-0.5878, 0.809),
    (-0.428, 0.139),
    (-0.9511, -0.309),
    (-0.2645, -0.3641),
)
_STAR_ROW_Y = 128
_STAR_ROW_WIDTH = 260
# Text boxes as (width, height) below their top edge: the level name between the stars
# and the rule, the occupation between the rule and the "LEVEL n OF m" line.
_LABEL_TOP = 166
_LABEL_BOX = (420.0, 108.0)
_OCCUPATION_TOP = 306
_OCCUPATION_BOX = (370.0, 94.0)
_CAP_HEIGHT = 0.75
_RANK_LINE_Y = 440
_ELLIPSIS = "\u2026"
_NOT_XML = re.compile("[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]")


def caption_for(occupation_title: str, level_label: str, rank: int, level_count: int) -> str:
    """The text alternative of the badge image (``image.caption`` of the Achievement)."""
    return (
        f"Badge for {occupation_title}, level {rank} of {level_count}: {level_label}. "
        f"{_stars_phrase(rank, level_count)}"
    )


def render_badge_svg(occupation_title: str, level_label: str, rank: int, level_count: int) -> str:
    """The badge for one level as an SVG document (a ``str``, about 2-4 KiB).

    Raises ValueError when ``rank`` is not between 1 and ``level_count`` or a text is blank.
    """
    if not occupation_title.strip() or not level_label.strip():
        raise ValueError("the occupation title and the level label must not be blank")
    if level_count < 1 or not 1 <= rank <= level_count:
        raise ValueError(f"rank {rank} is not between 1 and level_count {level_count}")
    fill = PALETTE[(rank - 1) % len(PALETTE)]
    title = f"{occupation_title} \u2014 {level_label}"
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512" width="512" '
        'height="512" role="img">',
        f"<title>{_text(title)}</title>",
        f"<desc>{_text(caption_for(occupation_title, level_label, rank, level_count))}</desc>",
        f'<circle cx="256" cy="256" r="248" fill="{fill}"/>',
        '<circle cx="256" cy="256" r="232" fill="none" stroke="#FFFFFF" stroke-width="6"/>',
        *_star_row(rank, level_count),
        f'<g fill="{TEXT_COLOUR}" font-family="{FONT_FAMILY}" text-anchor="middle">',
        *_label_lines(level_label),
        '<rect x="196" y="284" width="120" height="4" fill="#FFFFFF"/>',
        *_occupation_lines(occupation_title),
        f'<text x="256" y="{_RANK_LINE_Y}" font-size="22" font-weight="700" '
        f'letter-spacing="2">LEVEL {rank} OF {level_count}</text>',
        "</g>",
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def _stars_phrase(rank: int, level_count: int) -> str:
    star_word = "star" if rank == 1 else "stars"
    return f"{rank} of {level_count} {star_word} filled."


def _star_row(rank: int, level_count: int) -> list[str]:
    """Filled stars for the levels reached, outlined stars for those above."""
    spacing = min(62.0, _STAR_ROW_WIDTH / level_count)
    radius = spacing * 0.45
    first_x = _CENTRE - spacing * (level_count - 1) / 2
    stars = []
    for index in range(level_count):
        points = _star_points(first_x + index * spacing, _STAR_ROW_Y, radius)
        if index < rank:
            stars.append(f'<polygon points="{points}" fill="{STAR_COLOUR}"/>')
        else:
            stars.append(
                f'<polygon points="{points}" fill="none" stroke="{STAR_COLOUR}" '
                f'stroke-width="3" stroke-linejoin="round"/>'
            )
    return stars


def _star_points(x: float, y: float, radius: float) -> str:
    return " ".join(
        f"{_number(x + dx * radius)},{_number(y + dy * radius)}" for dx, dy in _UNIT_STAR
    )


def _label_lines(level_label: str) -> list[str]:
    size, lines = _fit(level_label, _LABEL_BOX, line_height=1.1, sizes=range(88, 39, -4))
    return _text_block(lines, size, _LABEL_BOX, _LABEL_TOP, 1.1, ' font-weight="700"')


def _occupation_lines(occupation_title: str) -> list[str]:
    size, lines = _fit(occupation_title, _OCCUPATION_BOX, line_height=1.2, sizes=range(34, 21, -2))
    return _text_block(lines, size, _OCCUPATION_BOX, _OCCUPATION_TOP, 1.2, "")


def _text_block(
    lines: list[str],
    size: int,
    box: tuple[float, float],
    top: float,
    line_height: float,
    attributes: str,
) -> list[str]:
    """Centred lines of text, the block centred vertically in its box."""
    slack = (box[1] - _block_height(size, len(lines), line_height)) / 2
    first = top + slack + size * _CAP_HEIGHT
    return [
        f'<text x="256" y="{_number(first + index * size * line_height)}" '
        f'font-size="{size}"{attributes}>{_text(line)}</text>'
        for index, line in enumerate(lines)
    ]


def _fit(
    text: str, box: tuple[float, float], *, line_height: float, sizes: range
) -> tuple[int, list[str]]:
    """The largest font size at which ``text`` wraps to fit ``box`` (width, height).

    The height counts from the top of the first line to the baseline of the last. When
    even the smallest size does not fit, or a single word is wider than a line, the text
    is cut and ends with an ellipsis (the full text stays in ``<title>``).
    """
    width, height = box
    for size in sizes:
        lines = _wrap(text, width / size)
        fits_across = all(_width_em(line) <= width / size for line in lines)
        if fits_across and _block_height(size, len(lines), line_height) <= height:
            return size, lines
    size = sizes[-1]
    width_em = width / size
    lines = [_shorten(line, width_em) for line in _wrap(text, width_em)]
    while len(lines) > 1 and _block_height(size, len(lines), line_height) > height:
        lines = lines[:-1]
        lines[-1] = _shorten(lines[-1] + _ELLIPSIS, width_em)
    return size, lines


def _block_height(size: int, line_count: int, line_height: float) -> float:
    """From the top of the capitals of the first line to the baseline of the last."""
    return size * (_CAP_HEIGHT + line_height * (line_count - 1))


def _wrap(text: str, width_em: float) -> list[str]:
    """Greedy word wrap by estimated width; a word wider than a line gets a line of its own."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and _width_em(candidate) > width_em:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _shorten(line: str, width_em: float) -> str:
    """Cut ``line`` to fit, keeping a trailing ellipsis if it has one (or adding one)."""
    if _width_em(line) <= width_em:
        return line
    body = line.removesuffix(_ELLIPSIS)
    while body and _width_em(body + _ELLIPSIS) > width_em:
        body = body[:-1]
    return body.rstrip() + _ELLIPSIS


def _width_em(text: str) -> float:
    """The rendered width of ``text`` in em, estimated from coarse glyph classes.

    There are no font metrics to hand (and the viewer's font is unknown), so the classes
    follow DejaVu Sans Bold, the widest font the ``font-family`` list is likely to get.
    """
    total = 0.0
    for char in text:
        if char == " ":
            total += 0.35
        elif char in "iljI.,;:'!|":
            total += 0.36
        elif char in "frt()-":
            total += 0.5
        elif char in "mw":
            total += 1.05
        elif char in "MW@%":
            total += 1.15
        elif char.isupper() or char.isdigit():
            total += 0.82
        else:
            total += 0.72
    return total


def _number(value: float) -> str:
    """A coordinate with at most one decimal, without a trailing ``.0``."""
    text = f"{value:.1f}"
    return text.removesuffix(".0")


def _text(value: str) -> str:
    """``value`` as XML character data: escaped, and with characters that XML 1.0 cannot
    hold at all (most C0 controls, lone surrogates, U+FFFE, U+FFFF) replaced by U+FFFD."""
    return escape(_NOT_XML.sub("\ufffd", value), {'"': "&quot;", "'": "&apos;"})
