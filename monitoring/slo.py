"""Objectives (SLOs) such as ``accuracy >= 0.90``: parsing and evaluation over metric windows."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitoring.metrics import METRICS_BY_TASK

LATENCY_METRICS = (
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_max_ms",
)
# Known once their window closes: late labels never change them, so provisional windows count.
LABEL_FREE_METRICS = (*LATENCY_METRICS, "throughput_per_min")
OPERATIONAL_METRICS = (*LABEL_FREE_METRICS, "label_coverage")
DEFAULT_OBJECTIVE_TARGET = 0.95

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
_UNBOUNDED = frozenset({"log_loss", "mae", "rmse", "mape", "r2", *LABEL_FREE_METRICS})
_OP_RE = re.compile(r"<=|>=|<|>")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VERSION_RE = re.compile(r"version\s+(\S+)")


@dataclass(frozen=True)
class Objective:
    """``metric op target``, for one model version or (version None) for all of them."""

    metric: str
    op: str
    target: float
    version: str | None = None

    def met_by(self, value: float) -> bool:
        """Whether a metric value meets the objective."""
        return _OPS[self.op](value, self.target)

    def __str__(self) -> str:
        suffix = "" if self.version is None else f" @ version {self.version}"
        return f"{self.metric} {self.op} {self.target:g}{suffix}"


@dataclass(frozen=True)
class ObjectiveStatus:
    """An objective's status now and over a range of windows.

    ``compliance`` is the share of evaluated windows that met the objective;
    ``error_budget_remaining`` is 1 with no failing window, 0 when the failing share equals
    the allowed share (1 - objective target) and negative beyond. Both are None when no
    window could be evaluated.
    """

    now_value: float | None
    now_ok: bool | None
    windows_ok: int
    windows_total: int
    compliance: float | None
    error_budget_remaining: float | None
    now_window: str | None = None
    windows_provisional: int = 0


def known_metrics(task: str | None = None) -> tuple[str, ...]:
    """Metrics an objective may name: those of a task (or of any task) plus operational ones."""
    if task is None:
        names = [name for metrics in METRICS_BY_TASK.values() for name in metrics]
    elif task in METRICS_BY_TASK:
        names = list(METRICS_BY_TASK[task])
    else:
        raise ValueError(f"unknown task {task!r}: use one of {', '.join(METRICS_BY_TASK)}")
    return tuple(dict.fromkeys([*names, *OPERATIONAL_METRICS]))


def parse_objective(text: str, task: str | None = None) -> Objective:
    """Parse ``"<metric> <op> <number> [@ version <v>]"``; ValueError says what is wrong.

    With ``task`` the metric must apply to that task; without, to any task.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"objective {text!r} is empty: write it like 'accuracy >= 0.90'")
    head, _, tail = text.partition("@")
    version = _parse_version(text, tail) if "@" in text else None
    match = _OP_RE.search(head)
    left = head[: match.start()] if match else head
    right = head[match.end() :] if match else ""
    if match is None or "=" in left or "=" in right or _OP_RE.search(right):
        raise ValueError(
            f"objective {text!r} needs one comparison: >=, >, <= or <, "
            "as in 'accuracy >= 0.90' or 'latency_p95_ms <= 200'"
        )
    metric = _parse_metric(text, left.strip(), task)
    target = _parse_target(text, metric, right.strip())
    return Objective(metric, match.group(), target, version)


def _parse_version(text: str, tail: str) -> str:
    found = _VERSION_RE.fullmatch(tail.strip())
    if "@" in tail or found is None:
        raise ValueError(
            f"objective {text!r}: write the version part as '@ version <name>', "
            "as in 'f1 >= 0.8 @ version 2'"
        )
    return found.group(1)


def _parse_metric(text: str, metric: str, task: str | None) -> str:
    known = known_metrics(task)
    if not _NAME_RE.fullmatch(metric):
        raise ValueError(
            f"objective {text!r} must start with a metric name; known: {', '.join(known)}"
        )
    if metric not in known:
        scope = "" if task is None else f" for a {task} model"
        raise ValueError(
            f"objective {text!r}: unknown metric {metric!r}{scope}; known: {', '.join(known)}"
        )
    return metric


def _parse_target(text: str, metric: str, value: str) -> float:
    try:
        target = float(value)
    except ValueError:
        raise ValueError(f"objective {text!r}: target {value!r} is not a number") from None
    if not math.isfinite(target):
        raise ValueError(f"objective {text!r}: target must be a finite number")
    if metric == "r2" and target > 1:
        raise ValueError(f"objective {text!r}: r2 is at most 1")
    if metric not in _UNBOUNDED and not 0 <= target <= 1:
        raise ValueError(
            f"objective {text!r}: {metric} is a fraction between 0 and 1 "
            f"(write 0.9 for 90%), got {value}"
        )
    if metric in _UNBOUNDED and metric != "r2" and target < 0:
        raise ValueError(f"objective {text!r}: {metric} cannot be negative")
    return target


def evaluate(
    objective: Objective,
    rows: Sequence[Mapping[str, Any]],
    target_compliance: float = DEFAULT_OBJECTIVE_TARGET,
) -> ObjectiveStatus:
    """Evaluate an objective over metric rows (the ``rows`` of collectors.performance.metric_rows).

    A window counts when its value is not null and, for label-based metrics (every model
    metric and label_coverage), it is not provisional: a half-labelled window says nothing
    yet. Latency and throughput windows always count. Rows carrying a ``version`` key are
    kept only when it matches a version objective; rows without one are taken as already
    fetched for the objective's version.
    """
    if not 0 < target_compliance < 1:
        raise ValueError(f"objective target {target_compliance} must be between 0 and 1")
    evaluated: list[tuple[Mapping[str, Any], float]] = []
    provisional = 0
    for row in rows:
        if not _of_version(row, objective.version):
            continue
        if row.get("provisional") and objective.metric not in LABEL_FREE_METRICS:
            provisional += 1
            continue
        value = _number(row.get(objective.metric))
        if value is not None:
            evaluated.append((row, value))
    if not evaluated:
        return ObjectiveStatus(None, None, 0, 0, None, None, None, provisional)
    latest_row, latest = max(evaluated, key=lambda item: _start(item[0]))
    ok = sum(objective.met_by(value) for _, value in evaluated)
    total = len(evaluated)
    return ObjectiveStatus(
        now_value=latest,
        now_ok=objective.met_by(latest),
        windows_ok=ok,
        windows_total=total,
        compliance=ok / total,
        error_budget_remaining=error_budget_remaining(ok, total, target_compliance),
        now_window=_text(latest_row.get("window_start")),
        windows_provisional=provisional,
    )


def _of_version(row: Mapping[str, Any], version: str | None) -> bool:
    # A row without a version key was fetched for the objective's version.
    return version is None or str(row.get("version", version)) == version


def error_budget_remaining(windows_ok: int, windows_total: int, target: float) -> float | None:
    """1 - failing share / allowed failing share (1 - target); negative once overspent."""
    if windows_total == 0:
        return None
    failing_share = (windows_total - windows_ok) / windows_total
    return 1.0 - failing_share / (1.0 - target)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _start(row: Mapping[str, Any]) -> datetime | str:
    start = row.get("window_start")
    if isinstance(start, str):
        try:
            return datetime.fromisoformat(start)
        except ValueError:
            return start
    return start if isinstance(start, datetime) else ""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)
