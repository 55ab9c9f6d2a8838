"""Alert rules: the metric catalogue, breach checks, TOML parsing with clear errors, round trips."""

from __future__ import annotations

import json
import math
import tomllib
from typing import Any

import pytest

from monitoring import alert_catalog
from monitoring.alert_rules import (
    METRICS,
    AlertRule,
    Labels,
    duration_text,
    known_metrics,
    parse_duration,
    parse_rule,
    parse_rules,
    register_metric,
    rule_to_table,
)
from monitoring.metrics import METRICS_BY_TASK

MODELS = ("churn", "fraud")
CHANNELS = ("oncall-email", "slack")

EXAMPLE = """
[rules.high_latency]
metric = "latency_p95_ms"
condition = "> 200"
model = "churn"
window = "1h"
for = "5m"
severity = "critical"
labels = {team = "risk"}
channels = ["oncall-email", "slack"]
description = "p95 latency is high"
runbook_url = "https://runbooks.example.com/latency"
include_provisional = false

[rules.low_accuracy]
metric = "accuracy"
comparison = "<"
threshold = 0.9
version = "2"
model = "fraud"
window = "1d"
min_count = 50

[rules.disk_full]
metric = "disk_percent"
condition = ">= 90"
"""


def parse(table: dict[str, Any], name: str = "r") -> AlertRule:
    return parse_rule(name, table, models=MODELS, channels=CHANNELS)


def test_catalogue_has_every_task_metric_and_the_operational_and_system_ones() -> None:
    for names in METRICS_BY_TASK.values():
        for name in names:
            assert METRICS[name][0] == "model", name
    operational = ["label_coverage", "count", "throughput_per_min"]
    latency = [f"latency_{q}_ms" for q in ("p50", "p90", "p95", "p99", "max")]
    for name in operational + latency:
        assert METRICS[name][0] == "model", name
    system = {"cpu_percent", "memory_percent", "disk_percent"}
    system |= {"gpu_util_percent", "gpu_memory_percent"}
    assert set(known_metrics("system")) == system
    assert set(known_metrics()) == set(known_metrics("model")) | system
    assert all(description for _, description in METRICS.values())


def test_register_metric_extends_the_catalogue() -> None:
    try:
        register_metric("drift_share", "model", "share of drifted features", (0.0, 1.0))
        rule = parse({"metric": "drift_share", "condition": "> 0.3"})
        assert rule.scope == "model"
        with pytest.raises(ValueError, match="drift_share is between 0 and 1"):
            parse({"metric": "drift_share", "condition": "> 30"})
        with pytest.raises(ValueError, match="'drift_share' is already a model metric"):
            register_metric("drift_share", "system", "x")
    finally:
        METRICS.pop("drift_share", None)
        alert_catalog.BOUNDS.pop("drift_share", None)
    with pytest.raises(ValueError, match="scope 'host' must be 'model' or 'system'"):
        register_metric("x_metric", "host", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="metric name 'bad name'"):
        register_metric("bad name", "model", "x")


@pytest.mark.parametrize(
    ("comparison", "value", "expected"),
    [
        (">", 201.0, True),
        (">", 200.0, False),
        (">=", 200.0, True),
        (">=", 199.9, False),
        ("<", 199.0, True),
        ("<", 200.0, False),
        ("<=", 200.0, True),
        ("<=", 200.1, False),
        ("==", 200.0, True),
        ("==", 200.5, False),
        ("!=", 200.5, True),
        ("!=", 200.0, False),
        (">", None, None),
        (">", math.nan, None),
    ],
)
def test_breached(comparison: str, value: float | None, expected: bool | None) -> None:
    rule = parse({"metric": "latency_p95_ms", "condition": f"{comparison} 200"})
    assert rule.breached(value) is expected


def test_parse_the_documented_example() -> None:
    rules = parse_rules(tomllib.loads(EXAMPLE)["rules"], models=MODELS, channels=CHANNELS)
    assert [r.name for r in rules] == ["high_latency", "low_accuracy", "disk_full"]
    high, low, disk = rules
    assert high == AlertRule(
        name="high_latency",
        metric="latency_p95_ms",
        comparison=">",
        threshold=200.0,
        model="churn",
        window="1h",
        for_s=300.0,
        severity="critical",
        labels={"team": "risk"},
        channels=("oncall-email", "slack"),
        description="p95 latency is high",
        runbook_url="https://runbooks.example.com/latency",
    )
    assert (high.window_s, high.condition, high.scope) == (3600, "> 200", "model")
    assert (low.comparison, low.threshold, low.version, low.min_count) == ("<", 0.9, "2", 50)
    assert (low.severity, low.for_s, low.channels) == ("warning", 0.0, ())
    assert (disk.scope, disk.model, disk.window) == ("system", None, "1h")


def test_rules_are_hashable_and_frozen() -> None:
    rules = parse_rules(tomllib.loads(EXAMPLE)["rules"], models=MODELS, channels=CHANNELS)
    assert len(set(rules)) == 3
    assert isinstance(rules[0].labels, Labels)
    assert rules[0].labels == {"team": "risk"}
    with pytest.raises(AttributeError):
        rules[0].threshold = 1.0  # type: ignore[misc]


def test_models_none_skips_the_model_check() -> None:
    rule = parse_rule(
        "r", {"metric": "f1", "condition": "< 0.5", "model": "new"}, models=None, channels=()
    )
    assert rule.model == "new"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        *[("30s", 30), ("5m", 300), ("1h", 3600), ("1d", 86400), ("1h30m", 5400)],
        *[("0.5m", 30), (90, 90), (2.5, 2.5), (0, 0), (" 2m ", 120)],
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30.0, "30s"), (300.0, "5m"), (5400.0, "90m"), (7200.0, "2h"), (172800.0, "2d"), (2.5, 2.5)],
)
def test_duration_text_round_trips(seconds: float, text: object) -> None:
    assert duration_text(seconds) == text
    assert parse_duration(text) == seconds


BASE: dict[str, Any] = {"metric": "latency_p95_ms", "condition": "> 200"}
P = "alert rule 'r', "


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"treshold": 1}, P + "treshold: unknown key; known keys: metric, condition, comparison"),
        ({"metric": None}, P + "metric: is required; known metrics: accuracy, precision"),
        ({"metric": "acc"}, P + "metric: unknown metric 'acc'; use one of accuracy, precision"),
        ({"metric": 5}, P + "metric: must be a string, got 5"),
        ({"condition": None}, P + "condition: is required: write condition = '> 200'"),
        (
            {"condition": "~ 3"},
            P + "condition: '~ 3' must be a comparison and a number, as '> 200'",
        ),
        ({"condition": "= 3"}, "comparisons: >, >=, <, <=, ==, !="),
        ({"condition": "> 3 4"}, P + "condition: '> 3 4' must be a comparison and a number"),
        ({"condition": 200}, P + "condition: 200 must be a comparison and a number"),
        ({"condition": "> lots"}, P + "condition: threshold 'lots' is not a number"),
        ({"condition": "> nan"}, P + "threshold: nan must be a finite number"),
        ({"condition": "< -inf"}, P + "threshold: -inf must be a finite number"),
        ({"threshold": 3}, P + "condition: give either condition or comparison and threshold"),
        ({"condition": None, "comparison": ">"}, P + "condition: is required"),
        (
            {"condition": None, "comparison": "=>", "threshold": 1},
            P + "comparison: unknown comparison '=>'; use one of >, >=, <, <=, ==, !=",
        ),
        (
            {"condition": None, "comparison": 1, "threshold": 1},
            P + "comparison: must be a string, got 1",
        ),
        (
            {"condition": None, "comparison": ">", "threshold": "200"},
            P + "threshold: '200' is not a number",
        ),
        (
            {"condition": None, "comparison": ">", "threshold": True},
            P + "threshold: True is not a number",
        ),
        (
            {"metric": "accuracy", "condition": "< 90"},
            P + "threshold: accuracy is between 0 and 1 (write 0.9 for 90%), got 90",
        ),
        ({"condition": "< -1"}, P + "threshold: latency_p95_ms is at least 0, got -1"),
        ({"metric": "r2", "condition": "< 2"}, P + "threshold: r2 is at most 1, got 2"),
        (
            {"metric": "cpu_percent", "condition": "> 150"},
            P + "threshold: cpu_percent is between 0 and 100, got 150",
        ),
        ({"model": "nope"}, P + "model: unknown model 'nope'; known models: churn, fraud"),
        ({"model": 3}, P + "model: must be a string, got 3"),
        ({"model": " "}, P + "model: must be a non-empty string, got ' '"),
        ({"version": "2"}, P + "version: a version needs a model: set model too"),
        (
            {"metric": "cpu_percent", "condition": "> 90", "model": "churn"},
            P + "model: cpu_percent is a system metric: it belongs to the host, not a model; "
            "remove model and version",
        ),
        (
            {"metric": "cpu_percent", "condition": "> 90", "min_count": 5},
            P + "min_count: cpu_percent is a system metric: it has no predictions or labels",
        ),
        ({"window": "2h"}, P + "window: unknown window '2h'; use one of 5m, 15m, 1h, 6h, 1d"),
        ({"window": 3600}, P + "window: must be a string, got 3600"),
        (
            {"for": "-5m"},
            P + "for: '-5m' is not a duration; write '30s', '5m', '1h', '1d' or seconds",
        ),
        ({"for": "5 minutes"}, P + "for: '5 minutes' is not a duration"),
        ({"for": True}, P + "for: True is not a duration"),
        ({"for": -1}, P + "for: must be >= 0 seconds, got -1"),
        ({"for": math.inf}, P + "for: must be >= 0 seconds, got inf"),
        (
            {"severity": "urgent"},
            P + "severity: unknown severity 'urgent'; use one of info, warning, critical",
        ),
        ({"labels": "team"}, P + "labels: must be a table of names to strings, as {team = 'risk'}"),
        (
            {"labels": {"bad key": "x"}},
            P + "labels: label name 'bad key': use letters, digits and '_'",
        ),
        ({"labels": {"team": 1}}, P + "labels: label 'team' must be a string, got 1"),
        ({"channels": "slack"}, P + "channels: must be a list of channel names, as ['slack']"),
        (
            {"channels": ["pager"]},
            P + "channels: unknown channel 'pager'; configured channels: oncall-email, slack",
        ),
        ({"channels": ["slack", "slack"]}, P + "channels: lists 'slack' twice"),
        ({"channels": [3]}, P + "channels: channel names are strings, got 3"),
        ({"description": 5}, P + "description: must be a string, got 5"),
        (
            {"runbook_url": "ftp://host/x"},
            P + "runbook_url: 'ftp://host/x' must be an http:// or https:// URL",
        ),
        (
            {"runbook_url": "javascript:alert(1)"},
            P + "runbook_url: 'javascript:alert(1)' must be an http",
        ),
        ({"include_provisional": "yes"}, P + "include_provisional: must be true or false"),
        ({"min_count": 0}, P + "min_count: must be a whole number >= 1, got 0"),
        ({"min_count": 2.5}, P + "min_count: must be a whole number >= 1, got 2.5"),
    ],
)
def test_parse_rule_errors(changes: dict[str, Any], message: str) -> None:
    table = {key: value for key, value in {**BASE, **changes}.items() if value is not None}
    with pytest.raises(ValueError) as caught:
        parse(table)
    assert message in str(caught.value)


def test_errors_without_models_or_channels_say_so() -> None:
    with pytest.raises(ValueError, match="unknown model 'churn'; known models: none are regis"):
        parse_rule("r", {**BASE, "model": "churn"}, models=(), channels=CHANNELS)
    with pytest.raises(ValueError, match="unknown channel 'slack'; configured channels: none are"):
        parse_rule("r", {**BASE, "channels": ["slack"]}, models=MODELS, channels=())


@pytest.mark.parametrize("name", ["", "has space", "x" * 101, "a/b", "é"])
def test_rule_names(name: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse(BASE, name=name)
    assert "is not allowed: use 1-100 letters, digits, '_', '-' or '.'" in str(caught.value)
    assert parse(BASE, name="team-a.latency_p95").name == "team-a.latency_p95"
    assert parse(BASE, name="x" * 100).name == "x" * 100


def test_table_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="alert rule 'r' must be a table of settings, got 'x'"):
        parse_rule("r", "x", models=MODELS, channels=CHANNELS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\[rules\] must be a table of rule tables"):
        parse_rules([], models=MODELS, channels=CHANNELS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alert rule 'b' must be a table of settings"):
        parse_rules({"a": BASE, "b": 3}, models=MODELS, channels=CHANNELS)


ROUND_TRIP = [
    AlertRule("a", "accuracy", "<", 0.9),
    AlertRule(
        "b",
        "latency_p99_ms",
        ">=",
        250.125,
        model="churn",
        version="v1.2",
        window="5m",
        for_s=90.0,
        severity="critical",
        labels={"team": "risk", "tier": "1"},
        channels=("slack",),
        description='p99 "slow" — check the pods',
        runbook_url="http://runbooks/x",
        include_provisional=True,
        min_count=20,
    ),
    AlertRule("c", "gpu_memory_percent", "!=", 100, for_s=2.5, severity="info"),
    AlertRule("d", "r2", "<", -1e20, model="fraud", window="1d", for_s=86400 * 2),
    AlertRule("e", "count", "==", 0, window="15m", for_s=1 / 3),
    AlertRule("f", "mape", ">", 0.1 + 0.2),
]


@pytest.mark.parametrize("rule", ROUND_TRIP, ids=lambda rule: rule.name)
def test_round_trip(rule: AlertRule) -> None:
    table = rule_to_table(rule)
    assert parse(table, name=rule.name) == rule
    # The dashboard editor saves the table as JSON: that must round-trip too.
    assert parse(json.loads(json.dumps(table)), name=rule.name) == rule
    assert all(value is not None for value in table.values())  # TOML has no null


def test_rule_to_table_leaves_out_defaults() -> None:
    assert rule_to_table(AlertRule("a", "accuracy", "<", 0.9)) == {
        "metric": "accuracy",
        "condition": "< 0.9",
        "window": "1h",
        "severity": "warning",
        "channels": [],
    }
