"""Charts as standalone SVG: no scripts, no external fonts, styles or images, the same
bytes for the same input.

`render_mme_chart` draws a patient's total opioid dose (MME/day) over time: the actual
total as a solid step line, the taper's plan as a dashed step line, the 50 and 90 MME/day
lines, and a vertical marker at each taper step and goal review, each with a tooltip.
It is an image for people (role="img"); its <title> and <desc> say in words what it
shows, for screen readers and wherever the picture is not seen.

Colours are from the Okabe-Ito palette (Okabe M, Ito K. Color Universal Design, 2008),
told apart by colour-blind readers, and every series also differs by line style or
shape, so none is told apart by colour alone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

from domain.opioids.history import HistoryPoint, Marker, MmeHistory, fmt
from service.svg import GRID, REVIEW, TEXT, count, empty, head, number, text

WIDTH, HEIGHT = 760, 420
LEFT, RIGHT, TOP, BOTTOM = 72, 112, 60, 120
"""Margins around the plot area: axis labels left and below, threshold labels right,
the title above, the legend below."""
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
MIN_SPAN_DAYS = 14
"""The narrowest date range drawn, so that a single date still has room around it."""

ACTUAL = "#0072B2"  # Okabe-Ito blue: solid, thick
PLANNED = "#E69F00"  # orange: dashed
THRESHOLD = "#555555"  # dark grey: fine dashes, labelled
TAPER_STEP = "#009E73"  # bluish green: dotted vertical, triangle on top
TODAY = "#999999"



_n = number


class _Scale:
    def __init__(self, history: MmeHistory) -> None:
        dates = [p.date for p in history.points] + [p.date for p in history.planned]
        dates += [m.date for m in history.taper_steps] + [m.date for m in history.goal_reviews]
        dates.append(history.as_of)
        low, high = min(dates), max(dates)
        extra = MIN_SPAN_DAYS - (high - low).days
        if extra > 0:
            low -= dt.timedelta(days=extra // 2)
            high += dt.timedelta(days=extra - extra // 2)
        self.low, self.high = low, high
        self.days = (high - low).days
        values = [p.mme_per_day for p in history.points + history.planned]
        top = max([*values, *history.thresholds, 1.0])
        self.step = _nice_step(top * 1.05 / 5)
        self.y_max = math.ceil(top * 1.05 / self.step) * self.step

    def x(self, day: dt.date) -> float:
        return LEFT + PLOT_W * (day - self.low).days / self.days

    def y(self, value: float) -> float:
        return TOP + PLOT_H * (1 - value / self.y_max)

    def x_ticks(self) -> list[dt.date]:
        count = min(6, self.days)
        ticks = [self.low + dt.timedelta(days=round(i * self.days / count))
                 for i in range(count + 1)]
        return sorted(set(ticks))

    def y_ticks(self) -> list[float]:
        return [i * self.step for i in range(round(self.y_max / self.step) + 1)]


def _nice_step(raw: float) -> float:
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def render_mme_chart(history: MmeHistory, title: str) -> str:
    """The history as a standalone SVG document (a string), accessible and deterministic."""
    out = head("mme-chart", WIDTH, HEIGHT, title, describe(history), LEFT)
    if not history.points and not history.planned:
        return empty(out, WIDTH / 2, HEIGHT / 2, "no opioid on record")
    scale = _Scale(history)
    out += _axes(scale)
    out += _thresholds(scale, history.thresholds)
    if scale.high > history.as_of:
        x = _n(scale.x(history.as_of))
        out.append(
            f'<g class="today"><title>today, {history.as_of.isoformat()}</title>'
            f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{TOP + PLOT_H}" stroke="{TODAY}" '
            f'stroke-width="1"/><text x="{_n(scale.x(history.as_of) + 3)}" '
            f'y="{TOP + PLOT_H - 6}" '
            f'font-size="11" fill="#555555">today</text></g>')
    out += _markers(scale, history.taper_steps, "taper-step", TAPER_STEP, "1 3", _triangle)
    out += _markers(scale, history.goal_reviews, "goal-review", REVIEW, None, _diamond)
    if history.points:
        out.append(
            f'<path class="actual" d="{_step_path(scale, history.points, history.as_of)}" '
            f'fill="none" stroke="{ACTUAL}" stroke-width="3" stroke-linejoin="round">'
            '<title>total MME/day taken</title></path>')
    if history.planned:
        out.append(
            f'<path class="planned" d="{_step_path(scale, history.planned, scale.high)}" '
            f'fill="none" stroke="{PLANNED}" stroke-width="2.5" stroke-dasharray="8 4">'
            '<title>planned taper</title></path>')
    if history.points:
        out += [_dot(scale, p) for p in history.points]
    else:
        out.append(f'<text class="empty" x="{_n(LEFT + PLOT_W / 2)}" '
                   f'y="{_n(TOP + PLOT_H / 2)}" text-anchor="middle" font-size="14">'
                   'no opioid on record</text>')
    out += _legend(history)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def describe(history: MmeHistory) -> str:
    """The chart in words: what its <desc> says."""
    lines = " and ".join(fmt(t) for t in history.thresholds)
    reference = f"Reference lines at {lines} MME/day." if history.thresholds else ""
    if not history.points:
        parts = ["Total opioid dose in morphine milligram equivalents per day: no opioid on "
                 "record.", reference]
    else:
        latest = history.points[-1]
        peak = max(history.points, key=lambda p: p.mme_per_day)
        crossed = [t for t in history.thresholds if latest.mme_per_day >= t]
        if crossed:
            where = f"at or above the {fmt(max(crossed))} MME/day line"
        elif history.thresholds:
            where = f"below the {fmt(min(history.thresholds))} MME/day line"
        else:
            where = ""
        parts = [
            "Total opioid dose in morphine milligram equivalents per day, from "
            f"{history.points[0].date.isoformat()} to {latest.date.isoformat()}.",
            f"Latest: {_amount(latest)} on {latest.date.isoformat()}"
            + (f", {where}." if where else "."),
            f"Highest: {_amount(peak)} from {peak.date.isoformat()}.",
            reference,
        ]
    if history.planned:
        first, last = history.planned[0], history.planned[-1]
        parts.append(f"Planned taper: {fmt(first.mme_per_day)} MME/day on "
                     f"{first.date.isoformat()} to {fmt(last.mme_per_day)} MME/day on "
                     f"{last.date.isoformat()}.")
    parts.append(f"Marked: {_count(len(history.taper_steps), 'taper step')} and "
                 f"{_count(len(history.goal_reviews), 'goal review')}.")
    return " ".join(p for p in parts if p)


def _amount(point: HistoryPoint) -> str:
    if point.lower_bound:
        return (f"at least {fmt(point.mme_per_day)} MME/day (a lower bound: an opioid's "
                "MME could not be computed)")
    return f"{fmt(point.mme_per_day)} MME/day"


_count = count


def _axes(scale: _Scale) -> list[str]:
    bottom, right = TOP + PLOT_H, LEFT + PLOT_W
    out = ['<g class="y-axis">']
    for value in scale.y_ticks():
        y = _n(scale.y(value))
        out.append(f'<line x1="{LEFT}" y1="{y}" x2="{right}" y2="{y}" stroke="{GRID}"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y}" text-anchor="end" '
                   f'dominant-baseline="middle">{fmt(value)}</text>')
    middle = _n(TOP + PLOT_H / 2)
    out.append(f'<text x="18" y="{middle}" text-anchor="middle" '
               f'transform="rotate(-90 18 {middle})">MME/day</text>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="{TEXT}"/>')
    out.append("</g>")
    out.append('<g class="x-axis">')
    out.append(f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{TEXT}"/>')
    for day in scale.x_ticks():
        x = _n(scale.x(day))
        out.append(f'<line x1="{x}" y1="{bottom}" x2="{x}" y2="{bottom + 5}" stroke="{TEXT}"/>')
        out.append(f'<text x="{x}" y="{bottom + 18}" text-anchor="middle">'
                   f"{day.isoformat()}</text>")
    out.append(f'<text x="{_n(LEFT + PLOT_W / 2)}" y="{bottom + 38}" '
               'text-anchor="middle">Date</text>')
    out.append("</g>")
    return out


def _thresholds(scale: _Scale, thresholds: list[float]) -> list[str]:
    out = []
    for value in thresholds:
        y = _n(scale.y(value))
        label = f"{fmt(value)} MME/day"
        out.append(
            f'<g class="threshold"><title>{text(label)} line</title>'
            f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + PLOT_W}" y2="{y}" stroke="{THRESHOLD}" '
            'stroke-width="1.5" stroke-dasharray="2 4"/>'
            f'<text x="{LEFT + PLOT_W + 6}" y="{y}" dominant-baseline="middle" '
            f'fill="{THRESHOLD}">{text(label)}</text></g>')
    return out


def _triangle(x: float) -> str:
    return f"M{_n(x - 5)} {TOP - 10} L{_n(x + 5)} {TOP - 10} L{_n(x)} {TOP - 2} Z"


def _diamond(x: float) -> str:
    return (f"M{_n(x)} {TOP - 12} L{_n(x + 5)} {TOP - 6} L{_n(x)} {TOP} "
            f"L{_n(x - 5)} {TOP - 6} Z")


def _markers(scale: _Scale, markers: list[Marker], kind: str, colour: str,
             dashes: str | None, shape: Callable[[float], str]) -> list[str]:
    out = []
    dash = f' stroke-dasharray="{dashes}"' if dashes else ""
    for marker in markers:
        x = scale.x(marker.date)
        tip = f"{marker.date.isoformat()}: {marker.label}"
        out.append(
            f'<g class="marker {kind}"><title>{text(tip)}</title>'
            f'<line x1="{_n(x)}" y1="{TOP}" x2="{_n(x)}" y2="{TOP + PLOT_H}" '
            f'stroke="{colour}" stroke-width="1.5"{dash}/>'
            f'<path d="{shape(x)}" fill="{colour}"/></g>')
    return out


def _step_path(scale: _Scale, points: list[HistoryPoint], until: dt.date) -> str:
    first = points[0]
    parts = [f"M{_n(scale.x(first.date))} {_n(scale.y(first.mme_per_day))}"]
    for point in points[1:]:
        parts.append(f"H{_n(scale.x(point.date))} V{_n(scale.y(point.mme_per_day))}")
    end = max(until, points[-1].date)
    parts.append(f"H{_n(scale.x(end))}")
    return " ".join(parts)


def _dot(scale: _Scale, point: HistoryPoint) -> str:
    fill = "#FFFFFF" if point.lower_bound else ACTUAL
    tip = f"{point.date.isoformat()}: {_amount(point)}"
    return (f'<circle class="point{" lower-bound" if point.lower_bound else ""}" '
            f'cx="{_n(scale.x(point.date))}" cy="{_n(scale.y(point.mme_per_day))}" r="4" '
            f'fill="{fill}" stroke="{ACTUAL}" stroke-width="2"><title>{text(tip)}</title>'
            "</circle>")


def _legend(history: MmeHistory) -> list[str]:
    """A key to what the chart shows, and only that."""
    entries: list[tuple[str, str]] = []
    if history.points:
        entries.append((
            "total MME/day taken",
            f'<line x1="0" y1="0" x2="28" y2="0" stroke="{ACTUAL}" stroke-width="3"/>'))
    if any(p.lower_bound for p in history.points):
        entries.append((
            "at least (an MME unknown)",
            f'<circle cx="14" cy="0" r="4" fill="#FFFFFF" stroke="{ACTUAL}" stroke-width="2"/>'))
    if history.planned:
        entries.append((
            "planned taper",
            f'<line x1="0" y1="0" x2="28" y2="0" stroke="{PLANNED}" stroke-width="2.5" '
            'stroke-dasharray="8 4"/>'))
    if history.thresholds:
        entries.append((
            "MME/day reference lines",
            f'<line x1="0" y1="0" x2="28" y2="0" stroke="{THRESHOLD}" stroke-width="1.5" '
            'stroke-dasharray="2 4"/>'))
    if history.taper_steps:
        entries.append((
            "taper step",
            f'<line x1="14" y1="-8" x2="14" y2="8" stroke="{TAPER_STEP}" stroke-width="1.5" '
            f'stroke-dasharray="1 3"/><path d="M9 -8 L19 -8 L14 0 Z" fill="{TAPER_STEP}"/>'))
    if history.goal_reviews:
        entries.append((
            "goal review",
            f'<line x1="14" y1="-8" x2="14" y2="8" stroke="{REVIEW}" stroke-width="1.5"/>'
            f'<path d="M14 -8 L19 -2 L14 4 L9 -2 Z" fill="{REVIEW}"/>'))
    out = ['<g class="legend" font-size="11">']
    for index, (label, swatch) in enumerate(entries):
        row, column = divmod(index, 3)
        x, y = LEFT + column * 200, TOP + PLOT_H + 62 + row * 22
        out.append(f'<g transform="translate({x} {y})">{swatch}'
                   f'<text x="36" y="0" dominant-baseline="middle">{text(label)}</text></g>')
    out.append("</g>")
    return out
