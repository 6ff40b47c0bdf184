"""What Concord's charts share: escaping, numbers, the accessible document head, and the
message a chart shows when there is nothing to draw."""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

TEXT = "#222222"
GRID = "#E6E6E6"
REVIEW = "#CC79A7"  # reddish purple: goal reviews, on every chart
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
MAX_VISIBLE_TITLE = 80

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def text(value: str) -> str:
    """Character data, escaped; characters XML 1.0 cannot hold are dropped."""
    return escape(_NOT_XML.sub("", value))


def attr(value: str) -> str:
    """An attribute value for double quotes, escaped."""
    return escape(_NOT_XML.sub("", value), {'"': "&quot;", "\n": "&#10;", "\t": "&#9;"})


def number(value: float) -> str:
    return f"{value:.1f}"


def count(amount: int, noun: str) -> str:
    return f"{amount} {noun}" if amount == 1 else f"{amount} {noun}s"


def head(ident: str, width: int, height: int, title: str, desc: str, left: int) -> list[str]:
    """The opening of a standalone SVG: `role="img"` labelled by its <title> and <desc>
    (what a screen reader says), a white background and the visible title."""
    visible = (title if len(title) <= MAX_VISIBLE_TITLE
               else title[:MAX_VISIBLE_TITLE - 1] + "…")
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{ident}-title {ident}-desc" '
        f'font-family="{attr(FONT)}" font-size="12" fill="{TEXT}">',
        f'<title id="{ident}-title">{text(title)}</title>',
        f'<desc id="{ident}-desc">{text(desc)}</desc>',
        f'<rect width="{width}" height="{height}" fill="#FFFFFF"/>',
        f'<text x="{left}" y="28" font-size="16" font-weight="bold">{text(visible)}</text>',
    ]


def empty(out: list[str], x: float, y: float, message: str) -> str:
    """Close the document with `message` in the middle: a chart with nothing to draw."""
    out.append(f'<text class="empty" x="{x:.1f}" y="{y:.1f}" text-anchor="middle" '
               f'font-size="14">{text(message)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
