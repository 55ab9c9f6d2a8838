"""Objectives: parsing with clear errors, status now, compliance and error budget."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from monitoring.slo import (
    Objective,
    ObjectiveStatus,
    error_budget_remaining,
    evaluate,
    known_metrics,
    parse_objective,
)


def _row(day: int, provisional: bool = False, **metrics: Any) -> dict[str, Any]:
    return {
        "window_start": f"2026-01-{day:02d}T00:00:00+00:00",
        "provisional": provisional,
        **metrics,
    }


ROWS = [
    _row(1, accuracy=0.95, latency_p95_ms=150.0, label_coverage=0.99),
    _row(2, accuracy=0.85, latency_p95_ms=250.0, label_coverage=0.95),
    _row(3, accuracy=None, latency_p95_ms=180.0, label_coverage=0.0),  # no labels yet
    _row(4, provisional=True, accuracy=0.50, latency_p95_ms=190.0, label_coverage=0.3),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("accuracy >= 0.90", Objective("accuracy", ">=", 0.9)),
        ("latency_p95_ms<=200", Objective("latency_p95_ms", "<=", 200.0)),
        ("  f1 >= 0.8 @ version 2 ", Objective("f1", ">=", 0.8, "2")),
        ("r2 > -0.5", Objective("r2", ">", -0.5)),
        ("throughput_per_min < 1e4", Objective("throughput_per_min", "<", 10000.0)),
        (
            "label_coverage >= 0.5@version v1.2-beta",
            Objective("label_coverage", ">=", 0.5, "v1.2-beta"),
        ),
        ("mae <= 3.5", Objective("mae", "<=", 3.5)),
    ],
)
def test_parse_objective(text: str, expected: Objective) -> None:
    objective = parse_objective(text)
    assert objective == expected
    assert parse_objective(str(objective)) == objective


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty: write it like 'accuracy >= 0.90'"),
        ("accuracy", "needs one comparison: >=, >, <= or <"),
        ("accuracy = 0.9", "needs one comparison"),
        ("accuracy == 0.9", "needs one comparison"),
        ("accuracy => 0.9", "needs one comparison"),
        ("0.8 <= accuracy <= 0.9", "needs one comparison"),
        (">= 0.9", "must start with a metric name"),
        ("acc >= 0.9", "unknown metric 'acc'"),
        ("accuracy >= high", "target 'high' is not a number"),
        ("accuracy >= ", "target '' is not a number"),
        ("accuracy >= nan", "target must be a finite number"),
        ("accuracy >= 90", "accuracy is a fraction between 0 and 1 (write 0.9 for 90%)"),
        ("label_coverage >= 1.5", "label_coverage is a fraction between 0 and 1"),
        ("latency_p95_ms <= -1", "latency_p95_ms cannot be negative"),
        ("r2 >= 2", "r2 is at most 1"),
        ("f1 >= 0.8 @ v2", "write the version part as '@ version <name>'"),
        ("f1 >= 0.8 @ version", "'@ version <name>'"),
        ("f1 >= 0.8 @ version 2 3", "'@ version <name>'"),
        ("f1 >= 0.8 @ version 2 @ version 3", "'@ version <name>'"),
    ],
)
def test_parse_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_objective(text)
    assert message in str(info.value)
    assert repr(text) in str(info.value)  # the message quotes the objective it is about


def test_unknown_metric_lists_every_known_one() -> None:
    with pytest.raises(ValueError) as info:
        parse_objective("acc >= 0.9")
    message = str(info.value)
    for name in (
        "accuracy",
        "f1_macro",
        "rmse",
        "latency_p50_ms",
        "latency_max_ms",
        "throughput_per_min",
    ):
        assert name in message


def test_metrics_of_a_task() -> None:
    assert parse_objective("mae <= 3", task="regression").metric == "mae"
    assert parse_objective("latency_p99_ms < 900", task="binary").metric == "latency_p99_ms"
    with pytest.raises(
        ValueError, match="unknown metric 'mae' for a binary model; known: accuracy"
    ):
        parse_objective("mae <= 3", task="binary")
    with pytest.raises(ValueError, match="unknown task 'ranking'"):
        parse_objective("mae <= 3", task="ranking")
    assert "f1_weighted" in known_metrics("multiclass")
    assert "roc_auc" not in known_metrics("multiclass")
    assert known_metrics().count("accuracy") == 1  # binary and multiclass share it


@pytest.mark.parametrize(
    ("op", "value", "met"),
    [
        (">=", 0.9, True),
        (">=", 0.89, False),
        (">", 0.9, False),
        ("<=", 0.9, True),
        ("<", 0.9, False),
        ("<", 0.1, True),
    ],
)
def test_met_by(op: str, value: float, met: bool) -> None:
    assert Objective("accuracy", op, 0.9).met_by(value) is met


def test_model_metric_skips_provisional_and_unlabelled_windows() -> None:
    status = evaluate(parse_objective("accuracy >= 0.9"), ROWS)
    # Day 1 meets it, day 2 fails, day 3 has no value, day 4 is provisional.
    assert status == ObjectiveStatus(
        now_value=0.85,
        now_ok=False,
        windows_ok=1,
        windows_total=2,
        compliance=0.5,
        error_budget_remaining=pytest.approx(1 - 0.5 / 0.05),
        now_window="2026-01-02T00:00:00+00:00",
        windows_provisional=1,
    )


def test_latency_counts_every_window_including_provisional_ones() -> None:
    status = evaluate(parse_objective("latency_p95_ms <= 200"), ROWS, target_compliance=0.5)
    assert (status.now_value, status.now_ok, status.now_window) == (
        190.0,
        True,
        ROWS[3]["window_start"],
    )
    assert (status.windows_ok, status.windows_total, status.windows_provisional) == (3, 4, 0)
    assert status.compliance == 0.75
    assert status.error_budget_remaining == pytest.approx(1 - 0.25 / 0.5)


def test_label_coverage_skips_provisional_windows() -> None:
    status = evaluate(parse_objective("label_coverage >= 0.96"), ROWS)
    assert (status.windows_ok, status.windows_total, status.windows_provisional) == (1, 3, 1)
    assert status.now_value == 0.0
    assert status.now_ok is False


def test_latest_window_is_found_by_time_not_by_order() -> None:
    shuffled = list(ROWS)
    random.Random(3).shuffle(shuffled)
    objective = parse_objective("accuracy > 0.8")
    assert evaluate(objective, shuffled) == evaluate(objective, ROWS)
    as_datetimes = [
        {**row, "window_start": datetime.fromisoformat(row["window_start"])} for row in ROWS
    ]
    status = evaluate(objective, as_datetimes)
    assert status.now_window == "2026-01-02T00:00:00+00:00"
    assert status.now_value == 0.85


def test_version_objective_keeps_rows_of_its_version() -> None:
    rows = [
        {**_row(1, accuracy=0.70), "version": "1"},
        {**_row(1, accuracy=0.95), "version": "2"},
        {**_row(2, accuracy=0.99), "version": "1"},
        {**_row(2, accuracy=0.92), "version": "2"},
        {**_row(3, accuracy=0.80), "version": "2"},
    ]
    status = evaluate(parse_objective("accuracy >= 0.9 @ version 2"), rows)
    assert (status.now_value, status.now_ok) == (0.80, False)
    assert (status.windows_ok, status.windows_total) == (2, 3)
    status_v1 = evaluate(parse_objective("accuracy >= 0.9 @ version 1"), rows)
    assert (status_v1.now_value, status_v1.windows_ok, status_v1.windows_total) == (0.99, 1, 2)
    # Rows without a version key were fetched for the objective's version: all count.
    unversioned = [_row(1, accuracy=0.95), _row(2, accuracy=0.5)]
    assert evaluate(parse_objective("accuracy >= 0.9 @ version 2"), unversioned).windows_total == 2


def test_no_window_to_evaluate() -> None:
    rows = [
        _row(1, provisional=True, accuracy=0.99),
        _row(2, accuracy=None),
        _row(3, accuracy=math.nan),
    ]
    status = evaluate(parse_objective("accuracy >= 0.9"), rows)
    assert status == ObjectiveStatus(None, None, 0, 0, None, None, None, 1)
    assert evaluate(parse_objective("accuracy >= 0.9"), []).compliance is None


def test_all_windows_met() -> None:
    rows = [_row(day, accuracy=0.95) for day in range(1, 11)]
    status = evaluate(parse_objective("accuracy >= 0.9"), rows)
    assert (status.compliance, status.error_budget_remaining, status.now_ok) == (1.0, 1.0, True)


@pytest.mark.parametrize(
    ("ok", "total", "target", "remaining"),
    [
        (20, 20, 0.95, 1.0),  # nothing failed: the whole budget is left
        (39, 40, 0.95, 0.5),  # 2.5% failed of 5% allowed
        (19, 20, 0.95, 0.0),  # exactly spent
        (18, 20, 0.95, -1.0),  # overspent by the whole budget again
        (9, 10, 0.8, 0.5),
        (0, 4, 0.5, -1.0),
    ],
)
def test_error_budget(ok: int, total: int, target: float, remaining: float) -> None:
    assert error_budget_remaining(ok, total, target) == pytest.approx(remaining)


def test_error_budget_through_evaluate() -> None:
    rows = [_row(day, accuracy=0.5 if day == 7 else 0.95) for day in range(1, 21)]
    status = evaluate(parse_objective("accuracy >= 0.9"), rows, target_compliance=0.9)
    assert status.compliance == pytest.approx(0.95)
    assert status.error_budget_remaining == pytest.approx(0.5)
    assert error_budget_remaining(0, 0, 0.95) is None


@pytest.mark.parametrize("target", [0.0, 1.0, 1.5, -0.1])
def test_objective_target_must_be_a_share(target: float) -> None:
    with pytest.raises(ValueError, match="must be between 0 and 1"):
        evaluate(parse_objective("accuracy >= 0.9"), ROWS, target_compliance=target)


def test_window_start_as_datetime_is_reported_as_iso() -> None:
    rows = [{"window_start": datetime(2026, 3, 1, tzinfo=UTC), "provisional": False, "mae": 2.0}]
    status = evaluate(parse_objective("mae <= 3"), rows)
    assert status.now_window == "2026-03-01T00:00:00+00:00"
    assert status.now_ok is True
