"""The alert timeline: intervals from transition rows, and the figure drawn from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from dashboard import alert_figures

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
START = T0 - timedelta(hours=24)
NOW = T0 + timedelta(hours=2)


def changes(*rows: tuple[float, str, str, str, str]) -> pd.DataFrame:
    """Transition rows (hours after T0, rule, model, from, to), newest first as storage gives."""
    frame = pd.DataFrame(
        [
            {
                "at": pd.Timestamp(T0 + timedelta(hours=h)),
                "rule": rule,
                "model": model,
                "from_state": old,
                "to_state": new,
                "value": 1.0,
                "silenced": False,
            }
            for h, rule, model, old, new in rows
        ]
    )
    return frame.iloc[::-1].reset_index(drop=True)


def spans(intervals: pd.DataFrame) -> list[tuple[str, str, str, datetime, datetime, bool]]:
    return [
        (r.rule, r.model, r.state, r.start, r.end, r.open)
        for r in intervals.itertuples(index=False)
    ]


def test_pending_then_firing_then_resolved_gives_two_closed_intervals() -> None:
    frame = changes(
        (0, "latency", "churn", "inactive", "pending"),
        (0.5, "latency", "churn", "pending", "firing"),
        (1, "latency", "churn", "firing", "resolved"),
    )
    intervals = alert_figures.timeline_intervals(frame, START, NOW)
    assert spans(intervals) == [
        ("latency", "churn", "pending", T0, T0 + timedelta(hours=0.5), False),
        ("latency", "churn", "firing", T0 + timedelta(hours=0.5), T0 + timedelta(hours=1), False),
    ]


def test_open_interval_ends_at_now() -> None:
    frame = changes(
        (0, "latency", "churn", "inactive", "firing"),
        (1, "cpu", "", "inactive", "pending"),
    )
    intervals = alert_figures.timeline_intervals(frame, START, NOW)
    assert spans(intervals) == [
        ("cpu", "", "pending", T0 + timedelta(hours=1), NOW, True),
        ("latency", "churn", "firing", T0, NOW, True),
    ]


def test_state_held_since_before_the_range_starts_at_the_range_start() -> None:
    # The first change in range leaves "firing": the alert fired before START.
    frame = changes((-20, "latency", "churn", "firing", "resolved"))
    intervals = alert_figures.timeline_intervals(frame, START, NOW)
    assert spans(intervals) == [
        ("latency", "churn", "firing", START, T0 - timedelta(hours=20), False),
    ]


def test_current_alert_without_changes_in_range_is_drawn_from_its_start() -> None:
    current = pd.DataFrame(
        [
            {"rule": "disk", "model": "", "state": "firing", "since": START - timedelta(days=3)},
            {"rule": "acc", "model": "churn", "state": "pending", "since": T0},
        ]
    )
    intervals = alert_figures.timeline_intervals(changes(), START, NOW, current)
    assert spans(intervals) == [
        ("disk", "", "firing", START, NOW, True),
        ("acc", "churn", "pending", T0, NOW, True),
    ]


def test_timeline_draws_pending_amber_and_firing_red() -> None:
    frame = changes(
        (0, "latency", "churn", "inactive", "pending"),
        (1, "latency", "churn", "pending", "firing"),
    )
    intervals = alert_figures.timeline_intervals(frame, START, NOW)
    fig = alert_figures.alert_timeline(intervals, START, NOW)
    assert fig.layout.title.text == "Alert timeline"
    bars = {trace.name: trace for trace in fig.data}
    assert set(bars) == {"pending", "firing"}
    assert bars["pending"].marker.color == alert_figures.STATE_COLORS["pending"] == "#F5A623"
    assert bars["firing"].marker.color == alert_figures.STATE_COLORS["firing"] == "#D62728"
    assert list(bars["firing"].y) == ["latency · churn"]
    # Bars start at their interval (naive UTC) and are as long as it, in milliseconds.
    assert pd.Timestamp(bars["pending"].base[0]) == pd.Timestamp(T0.replace(tzinfo=None))
    assert list(bars["pending"].x) == [3_600_000]
    assert list(bars["firing"].x) == [3_600_000]  # the open interval runs to NOW
    assert "still open" in bars["firing"].customdata[0][0]
    assert [pd.Timestamp(v) for v in fig.layout.xaxis.range] == [
        pd.Timestamp(START.replace(tzinfo=None)),
        pd.Timestamp(NOW.replace(tzinfo=None)),
    ]


def test_instant_interval_is_widened_to_stay_visible() -> None:
    frame = changes((2, "latency", "churn", "inactive", "firing"))  # fires at NOW
    fig = alert_figures.alert_timeline(
        alert_figures.timeline_intervals(frame, START, NOW), START, NOW
    )
    minimum = (NOW - START) * alert_figures.MIN_BAR_SHARE
    assert fig.data[0].x[0] == minimum / timedelta(milliseconds=1)
    # It grows to the left so that it ends at NOW, the end of the axis.
    assert pd.Timestamp(fig.data[0].base[0]) == pd.Timestamp((NOW - minimum).replace(tzinfo=None))


def test_system_rule_row_says_host_and_user_text_is_escaped() -> None:
    frame = changes((0, "<b>cpu</b>", "", "inactive", "firing"))
    fig = alert_figures.alert_timeline(
        alert_figures.timeline_intervals(frame, START, NOW), START, NOW
    )
    assert list(fig.data[0].y) == ["&lt;b&gt;cpu&lt;/b&gt; · host"]


def test_empty_input_gives_the_empty_state_figure() -> None:
    empty = alert_figures.timeline_intervals(pd.DataFrame(), START, NOW)
    assert empty.empty and list(empty.columns) == list(alert_figures.INTERVAL_COLUMNS)
    fig = alert_figures.alert_timeline(empty, START, NOW)
    assert not fig.data
    assert fig.layout.title.text == "Alert timeline"
    assert fig.layout.annotations[0].text == alert_figures.NO_ALERTS
