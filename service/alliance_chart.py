"""The alliance chart as standalone SVG, in the style of `service.charts`: no scripts, no
external fonts, styles or images, the same bytes for the same input.

Two panels over one date axis: above, the alliance with each clinician (one line per
relationship, 1-5, higher is stronger) with each relationship's baseline as a faint
dashed line; below, the PEG (0-10, higher is more pain and interference). Goal reviews
are vertical markers through both panels. It is an image for people (role="img"); its
<title> and <desc> say in words what it shows, and every point carries its value as a
tooltip (<title>), so nothing is told by the picture alone.

Colours are Okabe-Ito (as in `service.charts`), and each relationship also has its own
dash pattern and point shape, so no series is told apart by colour alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from domain.alliance_trend import (
    ALLIANCE_MAX,
    ALLIANCE_MIN,
    PEG_MAX,
    PEG_MIN,
    AllianceHistory,
    Relationship,
)
from service.svg import GRID, REVIEW, TEXT, count, empty, head, number, text

WIDTH = 760
LEFT, RIGHT, TOP = 72, 40, 60
PLOT_W = WIDTH - LEFT - RIGHT
ALLIANCE_H, GAP, PEG_H = 220, 40, 120
PEG_TOP = TOP + ALLIANCE_H + GAP
AXIS_BOTTOM = PEG_TOP + PEG_H
LEGEND_TOP = AXIS_BOTTOM + 56
LEGEND_ROW = 20
MIN_SPAN_DAYS = 14

SERIES = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#000000", "#F0E442")
"""Okabe-Ito, one per relationship in turn (reddish purple is the goal reviews')."""
DASHES = (None, "8 4", "2 3", "10 3 2 3", "4 4", "1 2", "12 2")
PEG_COLOUR = "#555555"


_n = number


def _f(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _circle(x: float, y: float, colour: str) -> str:
    return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="4" fill="{colour}"/>'


def _square(x: float, y: float, colour: str) -> str:
    return f'<rect x="{_n(x - 4)}" y="{_n(y - 4)}" width="8" height="8" fill="{colour}"/>'


def _triangle(x: float, y: float, colour: str) -> str:
    return (f'<path d="M{_n(x)} {_n(y - 5)} L{_n(x + 5)} {_n(y + 4)} L{_n(x - 5)} {_n(y + 4)} '
            f'Z" fill="{colour}"/>')


def _diamond(x: float, y: float, colour: str) -> str:
    return (f'<path d="M{_n(x)} {_n(y - 5)} L{_n(x + 5)} {_n(y)} L{_n(x)} {_n(y + 5)} '
            f'L{_n(x - 5)} {_n(y)} Z" fill="{colour}" stroke="#FFFFFF"/>')


SHAPES: tuple[Callable[[float, float, str], str], ...] = (_circle, _square, _triangle, _diamond)


class _Scale:
    def __init__(self, history: AllianceHistory) -> None:
        days = [p.authored_at.date() for rel in history.relationships for p in rel.points]
        days += [p.authored_at.date() for p in history.peg]
        days += [m.date for m in history.goal_reviews]
        days.append(history.as_of)
        low, high = min(days), max(days)
        extra = MIN_SPAN_DAYS - (high - low).days
        if extra > 0:
            low -= dt.timedelta(days=extra // 2)
            high += dt.timedelta(days=extra - extra // 2)
        self.low, self.high = low, high
        self.seconds = (dt.datetime.combine(high, dt.time()) -
                        dt.datetime.combine(low, dt.time())).total_seconds() + 86400

    def x(self, when: dt.datetime | dt.date) -> float:
        if not isinstance(when, dt.datetime):
            when = dt.datetime.combine(when, dt.time(12))
        start = dt.datetime.combine(self.low, dt.time(), tzinfo=when.tzinfo)
        return LEFT + PLOT_W * (when - start).total_seconds() / self.seconds

    @staticmethod
    def y_alliance(value: float) -> float:
        return TOP + ALLIANCE_H * (ALLIANCE_MAX - value) / (ALLIANCE_MAX - ALLIANCE_MIN)

    @staticmethod
    def y_peg(value: float) -> float:
        return PEG_TOP + PEG_H * (PEG_MAX - value) / (PEG_MAX - PEG_MIN)

    def x_ticks(self) -> list[dt.date]:
        span = (self.high - self.low).days
        count = min(6, span)
        return sorted({self.low + dt.timedelta(days=round(i * span / count))
                       for i in range(count + 1)})


def render_alliance_chart(history: AllianceHistory, title: str) -> str:
    """The alliance history as a standalone SVG document (a string)."""
    legend_rows = len(history.relationships) + 2
    height = LEGEND_TOP + legend_rows * LEGEND_ROW + 10
    out = head("alliance-chart", WIDTH, height, title, describe(history), LEFT)
    if not history.relationships and not history.peg:
        return empty(out, WIDTH / 2, TOP + ALLIANCE_H / 2, "no check-in answered yet")
    scale = _Scale(history)
    out += _axes(scale)
    for marker in history.goal_reviews:
        x = _n(scale.x(marker.date))
        out.append(
            f'<g class="marker goal-review"><title>{text(marker.date.isoformat())}: '
            f'{text(marker.label)}</title>'
            f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{AXIS_BOTTOM}" stroke="{REVIEW}" '
            f'stroke-width="1.5"/><path d="M{x} {TOP - 12} L{_n(float(x) + 5)} {TOP - 6} '
            f'L{x} {TOP} L{_n(float(x) - 5)} {TOP - 6} Z" fill="{REVIEW}"/></g>')
    for index, rel in enumerate(history.relationships):
        out += _relationship(scale, rel, index)
    out += _peg(scale, history)
    out += _legend(history)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _style(index: int) -> tuple[str, str]:
    colour = SERIES[index % len(SERIES)]
    dash = DASHES[index % len(DASHES)]
    return colour, f' stroke-dasharray="{dash}"' if dash else ""


def _relationship(scale: _Scale, rel: Relationship, index: int) -> list[str]:
    colour, dash = _style(index)
    shape = SHAPES[index % len(SHAPES)]
    who = f"{rel.name} ({rel.discipline})"
    out = [f'<g class="relationship" data-clinician-id="{rel.clinician_id}">']
    if rel.baseline is not None:
        y = _n(scale.y_alliance(rel.baseline))
        out.append(f'<line class="baseline" x1="{LEFT}" y1="{y}" x2="{LEFT + PLOT_W}" '
                   f'y2="{y}" stroke="{colour}" stroke-width="1" stroke-opacity="0.5" '
                   f'stroke-dasharray="1 4"><title>baseline with {text(who)}: '
                   f'{_f(rel.baseline)}</title></line>')
    d = " ".join(f"{'M' if i == 0 else 'L'}{_n(scale.x(p.authored_at))} "
                 f"{_n(scale.y_alliance(p.total))}" for i, p in enumerate(rel.points))
    out.append(f'<path class="alliance-line" d="{d}" fill="none" stroke="{colour}" '
               f'stroke-width="2.5"{dash}><title>alliance with {text(who)}</title></path>')
    for point in rel.points:
        tip = (f"{point.authored_at.date().isoformat()}: alliance with {who} "
               f"{_f(point.total)} of 5, goals {_f(point.goal_agreement)} of 5")
        out.append(f'<g class="point"><title>{text(tip)}</title>'
                   f'{shape(scale.x(point.authored_at), scale.y_alliance(point.total), colour)}'
                   "</g>")
    out.append("</g>")
    return out


def _peg(scale: _Scale, history: AllianceHistory) -> list[str]:
    if not history.peg:
        return [f'<text class="empty" x="{_n(LEFT + PLOT_W / 2)}" '
                f'y="{_n(PEG_TOP + PEG_H / 2)}" text-anchor="middle">no PEG answered</text>']
    d = " ".join(f"{'M' if i == 0 else 'L'}{_n(scale.x(p.authored_at))} "
                 f"{_n(scale.y_peg(p.total))}" for i, p in enumerate(history.peg))
    out = ['<g class="peg">',
           f'<path class="peg-line" d="{d}" fill="none" stroke="{PEG_COLOUR}" '
           'stroke-width="2.5"><title>PEG pain score</title></path>']
    for point in history.peg:
        tip = f"{point.authored_at.date().isoformat()}: PEG {_f(point.total)} of 10"
        out.append(f'<g class="point"><title>{text(tip)}</title>'
                   f'{_square(scale.x(point.authored_at), scale.y_peg(point.total), PEG_COLOUR)}'
                   "</g>")
    out.append("</g>")
    return out


def _y_axis(css: str, values: range | tuple[int, ...], y_of: Callable[[float], float],
            label: str, top: float, bottom: float) -> list[str]:
    """A labelled vertical axis with a grid line at each of `values`."""
    out = [f'<g class="y-axis {css}">']
    for value in values:
        y = _n(y_of(value))
        out.append(f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + PLOT_W}" y2="{y}" stroke="{GRID}"/>'
                   f'<text x="{LEFT - 8}" y="{y}" text-anchor="end" '
                   f'dominant-baseline="middle">{value}</text>')
    middle = _n((top + bottom) / 2)
    out.append(f'<text x="18" y="{middle}" text-anchor="middle" '
               f'transform="rotate(-90 18 {middle})">{label}</text>')
    out.append(f'<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="{TEXT}"/></g>')
    return out


def _axes(scale: _Scale) -> list[str]:
    right = LEFT + PLOT_W
    out = _y_axis("alliance-axis", range(int(ALLIANCE_MIN), int(ALLIANCE_MAX) + 1),
                  scale.y_alliance, "Alliance (1-5)", TOP, TOP + ALLIANCE_H)
    out += _y_axis("peg-axis", (0, 5, 10), scale.y_peg, "PEG (0-10)", PEG_TOP, AXIS_BOTTOM)
    out.append('<g class="x-axis">')
    out.append(f'<line x1="{LEFT}" y1="{AXIS_BOTTOM}" x2="{right}" y2="{AXIS_BOTTOM}" '
               f'stroke="{TEXT}"/>')
    for day in scale.x_ticks():
        x = _n(scale.x(day))
        out.append(f'<line x1="{x}" y1="{AXIS_BOTTOM}" x2="{x}" y2="{AXIS_BOTTOM + 5}" '
                   f'stroke="{TEXT}"/><text x="{x}" y="{AXIS_BOTTOM + 18}" '
                   f'text-anchor="middle">{day.isoformat()}</text>')
    out.append(f'<text x="{_n(LEFT + PLOT_W / 2)}" y="{AXIS_BOTTOM + 38}" '
               'text-anchor="middle">Date</text></g>')
    return out


def _legend(history: AllianceHistory) -> list[str]:
    out = ['<g class="legend" font-size="11">']
    rows: list[tuple[str, str]] = []
    for index, rel in enumerate(history.relationships):
        colour, dash = _style(index)
        shape = SHAPES[index % len(SHAPES)]
        rows.append((f"alliance with {rel.name} ({rel.discipline})",
                     f'<line x1="0" y1="0" x2="28" y2="0" stroke="{colour}" '
                     f'stroke-width="2.5"{dash}/>{shape(14, 0, colour)}'))
    if history.peg:
        rows.append(("PEG pain score (lower panel)",
                     f'<line x1="0" y1="0" x2="28" y2="0" stroke="{PEG_COLOUR}" '
                     f'stroke-width="2.5"/>{_square(14, 0, PEG_COLOUR)}'))
    if history.goal_reviews:
        rows.append(("goal review",
                     f'<line x1="14" y1="-8" x2="14" y2="8" stroke="{REVIEW}" '
                     f'stroke-width="1.5"/><path d="M14 -8 L19 -2 L14 4 L9 -2 Z" '
                     f'fill="{REVIEW}"/>'))
    for index, (label, swatch) in enumerate(rows):
        y = LEGEND_TOP + index * LEGEND_ROW
        out.append(f'<g transform="translate({LEFT} {y})">{swatch}'
                   f'<text x="36" y="0" dominant-baseline="middle">{text(label)}</text></g>')
    out.append("</g>")
    return out


def describe(history: AllianceHistory) -> str:
    """The chart in words: what its <desc> says."""
    parts: list[str] = []
    if not history.relationships:
        parts.append("Alliance with each clinician, 1 to 5: no alliance check-in answered yet.")
    else:
        parts.append(f"Alliance with each clinician on a 1 to 5 scale, higher is stronger: "
                     f"{_count(len(history.relationships), 'relationship')}.")
    for rel in history.relationships:
        if rel.latest is None:
            continue
        sentence = (f"{rel.name} ({rel.discipline}): {_count(len(rel.points), 'check-in')}, "
                    f"latest {_f(rel.latest.total)} on {rel.latest.authored_at.date().isoformat()}")
        if rel.baseline is not None:
            sentence += f", baseline {_f(rel.baseline)}"
        flags = []
        if rel.dropped:
            flags.append("a drop below the baseline")
        if rel.low_goal_agreement:
            flags.append("low agreement on goals")
        sentence += f"; flagged: {' and '.join(flags)}." if flags else "."
        parts.append(sentence)
    if history.peg:
        latest = history.peg[-1]
        parts.append(f"PEG pain score on a 0 to 10 scale, higher is worse: "
                     f"{_count(len(history.peg), 'answer')}, latest {_f(latest.total)} on "
                     f"{latest.authored_at.date().isoformat()}.")
    else:
        parts.append("PEG pain score: none answered yet.")
    parts.append(f"Marked: {_count(len(history.goal_reviews), 'goal review')}.")
    return " ".join(parts)


_count = count
