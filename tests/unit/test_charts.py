"""The MME chart as SVG: well-formed, accessible, escaped, deterministic, self-contained."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from domain.opioids.history import HistoryPoint, Marker, MmeHistory
from service.charts import describe, render_mme_chart

SVG = "{http://www.w3.org/2000/svg}"
TODAY = dt.date(2025, 6, 1)


def d(month: int, day: int) -> dt.date:
    return dt.date(2025, month, day)


def p(month: int, day: int, mme: float, lower_bound: bool = False) -> HistoryPoint:
    return HistoryPoint(date=d(month, day), mme_per_day=mme, lower_bound=lower_bound)


def history(points: list[HistoryPoint] | None = None, *,
            planned: list[HistoryPoint] | None = None,
            taper_steps: list[Marker] | None = None,
            goal_reviews: list[Marker] | None = None) -> MmeHistory:
    return MmeHistory(as_of=TODAY, points=points or [], planned=planned or [],
                      taper_steps=taper_steps or [], goal_reviews=goal_reviews or [],
                      thresholds=[50.0, 90.0])


FULL = history(
    [p(1, 1, 30), p(2, 1, 90), p(3, 1, 90, lower_bound=True), p(3, 20, 90), p(4, 15, 120),
     p(6, 1, 120)],
    planned=[p(5, 14, 120), p(5, 15, 108), p(6, 12, 108), p(7, 10, 96)],
    taper_steps=[Marker(date=d(5, 15), label="taper: 108 MME/day"),
                 Marker(date=d(6, 12), label="taper pause: hold at 108 MME/day"),
                 Marker(date=d(7, 10), label="taper: 96 MME/day")],
    goal_reviews=[Marker(date=d(2, 20), label="goal review, GAS T 43.8"),
                  Marker(date=d(5, 2), label="goal review, GAS T 50.0")],
)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check it


def child(element: ET.Element, tag: str) -> ET.Element:
    found = element.find(f"{SVG}{tag}")
    assert found is not None, f"no <{tag}> in <{element.tag}>"
    return found


def by_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in e.get("class", "").split()]


def all_text(element: ET.Element) -> str:
    return "".join(element.itertext())


def test_the_chart_is_a_well_formed_accessible_image() -> None:
    root = parse(render_mme_chart(FULL, "Total opioid dose, MME/day"))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("viewBox") == "0 0 760 420"
    title, desc = root[0], root[1]
    assert title.tag == f"{SVG}title" and title.text == "Total opioid dose, MME/day"
    assert desc.tag == f"{SVG}desc"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert desc.text is not None
    assert "Latest: 120 MME/day on 2025-06-01, at or above the 90 MME/day line." in desc.text
    assert "Reference lines at 50 and 90 MME/day." in desc.text
    assert "Planned taper: 120 MME/day on 2025-05-14 to 96 MME/day on 2025-07-10." in desc.text
    assert "3 taper steps and 2 goal reviews" in desc.text


def test_threshold_lines_at_50_and_90_are_dashed_and_labelled() -> None:
    root = parse(render_mme_chart(FULL, "chart"))
    thresholds = by_class(root, "threshold")
    assert [all_text(child(t, "text")) for t in thresholds] == ["50 MME/day", "90 MME/day"]
    for group in thresholds:
        line = group.find(f"{SVG}line")
        assert line is not None and line.get("stroke-dasharray")
        assert line.get("y1") == line.get("y2")
    # 90 is drawn above 50: smaller y
    y50, y90 = (float(child(g, "line").get("y1", "nan")) for g in thresholds)
    assert y90 < y50


def test_one_marker_with_a_tooltip_per_goal_review_and_per_taper_step() -> None:
    root = parse(render_mme_chart(FULL, "chart"))
    reviews = by_class(root, "goal-review")
    assert len(reviews) == len(FULL.goal_reviews)
    assert [child(r, "title").text for r in reviews] == [
        "2025-02-20: goal review, GAS T 43.8", "2025-05-02: goal review, GAS T 50.0"]
    steps = by_class(root, "taper-step")
    assert len(steps) == len(FULL.taper_steps)
    assert all(s.find(f"{SVG}line") is not None for s in steps)


def test_actual_is_a_solid_step_line_and_the_plan_a_dashed_one() -> None:
    root = parse(render_mme_chart(FULL, "chart"))
    (actual,) = by_class(root, "actual")
    (planned,) = by_class(root, "planned")
    assert actual.get("stroke-dasharray") is None
    assert planned.get("stroke-dasharray")
    assert actual.get("stroke") != planned.get("stroke")
    assert "H" in actual.get("d", "") and "V" in actual.get("d", "")
    points = by_class(root, "point")
    assert len(points) == len(FULL.points)
    (lower,) = by_class(root, "lower-bound")
    assert lower.get("fill") == "#FFFFFF"  # hollow: at least this much
    assert "at least 90 MME/day" in (child(lower, "title").text or "")


def test_axes_are_labelled_with_dates_and_mme_per_day() -> None:
    root = parse(render_mme_chart(FULL, "chart"))
    (x_axis,) = by_class(root, "x-axis")
    (y_axis,) = by_class(root, "y-axis")
    x_labels = [t.text for t in x_axis.iter(f"{SVG}text")]
    assert x_labels[0] == "2025-01-01" and x_labels[-2] == "2025-07-10"
    assert x_labels[-1] == "Date"
    for label in x_labels[:-1]:
        assert label is not None
        dt.date.fromisoformat(label)
    y_labels = [t.text for t in y_axis.iter(f"{SVG}text")]
    assert "MME/day" in y_labels
    assert y_labels[0] == "0"
    assert float(y_labels[-2] or 0) >= 120  # the highest tick is above the highest value


def test_all_text_is_escaped() -> None:
    hostile = 'Plan for <script>alert("x")</script> & "friends" \x01'
    marked = history([p(5, 1, 30), p(6, 1, 30)],
                     goal_reviews=[Marker(date=d(5, 10), label="review <b>&</b> 'done'")])
    svg = render_mme_chart(marked, hostile)
    root = parse(svg)
    assert root[0].text == 'Plan for <script>alert("x")</script> & "friends" '
    assert "<script" not in svg
    assert "&lt;script&gt;" in svg and "&amp;" in svg
    (review,) = by_class(root, "goal-review")
    assert child(review, "title").text == "2025-05-10: review <b>&</b> 'done'"


def test_an_empty_history_says_no_opioid_on_record() -> None:
    svg = render_mme_chart(history(), "Nothing yet")
    root = parse(svg)
    assert root.get("role") == "img"
    (message,) = by_class(root, "empty")
    assert message.text == "no opioid on record"
    assert "no opioid on record" in (root[1].text or "")
    assert by_class(root, "actual") == []


def test_a_plan_without_a_record_still_draws_the_plan_and_says_so() -> None:
    root = parse(render_mme_chart(history(planned=[p(6, 10, 60), p(6, 11, 54)]), "t"))
    assert len(by_class(root, "planned")) == 1
    assert [e.text for e in by_class(root, "empty")] == ["no opioid on record"]


def test_a_single_point_is_drawn_as_a_dot() -> None:
    root = parse(render_mme_chart(history([p(6, 1, 30)]), "One day"))
    (dot,) = by_class(root, "point")
    (actual,) = by_class(root, "actual")
    assert dot.get("cx") is not None and dot.get("cy") is not None
    assert actual.get("d", "").startswith(f"M{dot.get('cx')} {dot.get('cy')}")
    assert "Latest: 30 MME/day on 2025-06-01, below the 50 MME/day line." in (root[1].text or "")


def test_the_output_is_deterministic_and_self_contained() -> None:
    first = render_mme_chart(FULL, "chart")
    assert first == render_mme_chart(FULL, "chart")
    lowered = first.lower()
    for banned in ("<script", "href", "url(", "@import", "<image", "<foreignobject", "<style"):
        assert banned not in lowered
    assert lowered.count("http") == 1  # the SVG namespace only


def test_describe_names_a_lower_bound() -> None:
    text = describe(history([p(5, 1, 30), p(6, 1, 30, lower_bound=True)]))
    assert "Latest: at least 30 MME/day (a lower bound" in text
