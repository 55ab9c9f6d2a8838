"""Alert rules: the rule type and its parsing from TOML tables, with clear errors.

A rule says ``metric comparison threshold`` over a look-back ``window`` for one model (or every
model, or the host for system metrics); the lifecycle (``monitoring.alert_lifecycle``) turns the
breach into pending, firing and resolved alerts. Errors are ValueErrors that name the rule, the
field and what is allowed, so a config or dashboard editor can show them as they are.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from monitoring.alert_catalog import BOUNDS, METRICS, MetricScope
from monitoring.alert_catalog import known_metrics as known_metrics  # re-exported
from monitoring.alert_catalog import register_metric as register_metric  # re-exported
from monitoring.alert_durations import duration_text as duration_text  # re-exported
from monitoring.alert_durations import parse_duration as parse_duration  # re-exported

Comparison = Literal[">", ">=", "<", "<=", "==", "!="]
Severity = Literal["info", "warning", "critical"]

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
WINDOWS: dict[str, int] = {"5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400}
DEFAULT_WINDOW = "1h"
DEFAULT_SEVERITY: Severity = "warning"
RULE_KEYS: tuple[str, ...] = (
    *("metric", "condition", "comparison", "threshold", "model", "version", "window", "for"),
    *("severity", "labels", "channels", "description", "runbook_url", "include_provisional"),
    "min_count",
)

_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_LABEL_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_CONDITION_RE = re.compile(r"\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*")


class Labels(Mapping[str, str]):
    """An immutable, hashable str -> str mapping, so frozen rules and silences stay hashable."""

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        self._map = dict(items)
        self._key = tuple(sorted(self._map.items()))

    def __getitem__(self, key: str) -> str:
        return self._map[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self._map == dict(other.items())

    def __repr__(self) -> str:
        return repr(self._map)


def _error(rule: str, key: str, message: str) -> ValueError:
    return ValueError(f"alert rule {rule!r}, {key}: {message}")


@dataclass(frozen=True)
class AlertRule:
    """``metric comparison threshold`` over ``window``, true for ``for_s`` seconds, then firing.

    ``model`` None: every model (model metrics) or the host (system metrics). A window with
    fewer than ``min_count`` predictions is no data. Provisional windows (labels still
    arriving) are skipped for label-based metrics unless ``include_provisional``.
    """

    name: str
    metric: str
    comparison: Comparison
    threshold: float
    model: str | None = None
    version: str | None = None
    window: str = DEFAULT_WINDOW
    for_s: float = 0.0
    severity: Severity = DEFAULT_SEVERITY
    labels: Mapping[str, str] = field(default_factory=Labels)
    channels: tuple[str, ...] = ()
    description: str = ""
    runbook_url: str | None = None
    include_provisional: bool = False
    min_count: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.fullmatch(self.name):
            raise ValueError(
                f"alert rule name {self.name!r} is not allowed: use 1-100 letters, digits, "
                "'_', '-' or '.'"
            )
        self._check_choices()
        set_ = object.__setattr__
        set_(self, "threshold", self._check_threshold())
        set_(self, "for_s", self._check_for())
        set_(self, "labels", Labels(self._check_labels()))
        set_(self, "channels", self._check_channels())
        self._check_target()
        self._check_extras()

    def _fail(self, key: str, message: str) -> ValueError:
        return _error(self.name, key, message)

    def _check_threshold(self) -> float:
        value = self.threshold
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail("threshold", f"{value!r} is not a number")
        if not math.isfinite(value):
            raise self._fail("threshold", f"{value!r} must be a finite number")
        low, high = BOUNDS.get(self.metric, (None, None))
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"between {low:g} and {high:g}" if low is not None and high is not None else ""
            span = span or (f"at least {low:g}" if low is not None else f"at most {high:g}")
            hint = " (write 0.9 for 90%)" if (low, high) == (0.0, 1.0) else ""
            raise self._fail("threshold", f"{self.metric} is {span}{hint}, got {value:g}")
        return float(value)

    def _check_for(self) -> float:
        value = self.for_s
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail("for", f"{value!r} is not a duration")
        if not math.isfinite(value) or value < 0:
            raise self._fail("for", f"must be >= 0 seconds, got {value!r}")
        return float(value)

    def _check_labels(self) -> Mapping[str, str]:
        if not isinstance(self.labels, Mapping):
            raise self._fail("labels", "must be a table of names to strings, as {team = 'risk'}")
        for key, value in self.labels.items():
            if not isinstance(key, str) or not _LABEL_RE.fullmatch(key):
                raise self._fail(
                    "labels", f"label name {key!r}: use letters, digits and '_', starting a letter"
                )
            if not isinstance(value, str):
                raise self._fail("labels", f"label {key!r} must be a string, got {value!r}")
        return self.labels

    def _check_channels(self) -> tuple[str, ...]:
        channels = self.channels
        if isinstance(channels, str) or not isinstance(channels, Iterable):
            raise self._fail("channels", "must be a list of channel names, as ['slack']")
        names = tuple(channels)
        for name in names:
            if not isinstance(name, str) or not name:
                raise self._fail("channels", f"channel names are strings, got {name!r}")
            if names.count(name) > 1:
                raise self._fail("channels", f"lists {name!r} twice")
        return names

    def _check_choices(self) -> None:
        for key, allowed in (
            ("metric", METRICS),
            ("comparison", COMPARISONS),
            ("window", WINDOWS),
            ("severity", SEVERITIES),
        ):
            value = getattr(self, key)
            if not isinstance(value, str) or value not in allowed:
                raise self._fail(key, f"unknown {key} {value!r}; use one of {', '.join(allowed)}")

    def _check_target(self) -> None:
        for key in ("model", "version"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise self._fail(key, f"must be a non-empty string, got {value!r}")
        if self.scope == "system":
            if self.model is not None or self.version is not None:
                raise self._fail(
                    "model",
                    f"{self.metric} is a system metric: it belongs to the host, not a model; "
                    "remove model and version",
                )
            if self.min_count != 1 or self.include_provisional:
                raise self._fail(
                    "min_count" if self.min_count != 1 else "include_provisional",
                    f"{self.metric} is a system metric: it has no predictions or labels",
                )
        elif self.version is not None and self.model is None:
            raise self._fail("version", "a version needs a model: set model too")

    def _check_extras(self) -> None:
        if not isinstance(self.description, str):
            raise self._fail("description", f"must be a string, got {self.description!r}")
        url = self.runbook_url
        if url is not None and not _is_http_url(url):
            raise self._fail("runbook_url", f"{url!r} must be an http:// or https:// URL")
        if not isinstance(self.include_provisional, bool):
            raise self._fail("include_provisional", "must be true or false")
        count = self.min_count
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise self._fail("min_count", f"must be a whole number >= 1, got {count!r}")

    @property
    def scope(self) -> MetricScope:
        """'model' or 'system', from the metric."""
        return METRICS[self.metric][0]

    @property
    def window_s(self) -> int:
        """The look-back window in seconds."""
        return WINDOWS[self.window]

    @property
    def condition(self) -> str:
        """The comparison and threshold as written in a rule, e.g. ``"> 200"``."""
        return f"{self.comparison} {_number_text(self.threshold)}"

    def breached(self, value: float | None) -> bool | None:
        """Whether ``value`` breaks the rule; None for no data (None or NaN)."""
        if value is None or math.isnan(value):
            return None
        return COMPARISONS[self.comparison](float(value), self.threshold)


def _is_http_url(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _number_text(value: float) -> str:
    # Integral values read better without ".0"; repr round-trips every other float exactly.
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def parse_rule(
    name: str,
    table: Mapping[str, object],
    *,
    models: Collection[str] | None,
    channels: Collection[str],
) -> AlertRule:
    """An AlertRule from its TOML table (``[rules.<name>]``); ValueError says what is wrong.

    ``models``: the registered models (None skips the check); ``channels``: the configured
    notification channels.
    """
    if not isinstance(table, Mapping):
        raise ValueError(f"alert rule {name!r} must be a table of settings, got {table!r}")
    unknown = [key for key in table if key not in RULE_KEYS]
    if unknown:
        raise _error(name, unknown[0], f"unknown key; known keys: {', '.join(RULE_KEYS)}")
    metric = _string(name, table, "metric", required=True)
    comparison, threshold = _condition(name, table)
    wanted = table.get("channels", [])
    if not isinstance(wanted, list | tuple):
        raise _error(name, "channels", "must be a list of channel names, as ['slack']")
    labels = table.get("labels", {})
    rule = AlertRule(
        name=name,
        metric=cast(str, metric),
        comparison=cast(Comparison, comparison),
        threshold=threshold,
        model=_string(name, table, "model"),
        version=_string(name, table, "version"),
        window=_string(name, table, "window") or DEFAULT_WINDOW,
        for_s=parse_duration(table.get("for", 0), name, "for"),
        severity=cast(Severity, _string(name, table, "severity") or DEFAULT_SEVERITY),
        labels=cast(Mapping[str, str], labels),
        channels=tuple(wanted),
        description=cast(str, table.get("description", "")),
        runbook_url=_string(name, table, "runbook_url"),
        include_provisional=cast(bool, table.get("include_provisional", False)),
        min_count=cast(int, table.get("min_count", 1)),
    )
    # Membership last: a malformed rule gets the error about its form first.
    if rule.model is not None and models is not None and rule.model not in models:
        known = ", ".join(sorted(models)) or "none are registered yet"
        raise _error(name, "model", f"unknown model {rule.model!r}; known models: {known}")
    for channel in rule.channels:
        if channel not in channels:
            configured = ", ".join(sorted(channels)) or "none are configured"
            raise _error(
                name, "channels", f"unknown channel {channel!r}; configured channels: {configured}"
            )
    return rule


def _string(name: str, table: Mapping[str, object], key: str, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None and required:
        raise _error(name, key, f"is required; known metrics: {', '.join(METRICS)}")
    if value is not None and not isinstance(value, str):
        raise _error(name, key, f"must be a string, got {value!r}")
    return value


def _condition(name: str, table: Mapping[str, object]) -> tuple[str, float]:
    has_condition = "condition" in table
    has_parts = "comparison" in table or "threshold" in table
    if has_condition and has_parts:
        raise _error(name, "condition", "give either condition or comparison and threshold")
    if has_condition:
        text = table["condition"]
        found = _CONDITION_RE.fullmatch(text) if isinstance(text, str) else None
        if found is None:
            raise _error(
                name,
                "condition",
                f"{text!r} must be a comparison and a number, as '> 200'; "
                f"comparisons: {', '.join(COMPARISONS)}",
            )
        try:
            return found.group(1), float(found.group(2))
        except ValueError:
            raise _error(
                name, "condition", f"threshold {found.group(2)!r} is not a number"
            ) from None
    if "comparison" not in table or "threshold" not in table:
        raise _error(
            name,
            "condition",
            "is required: write condition = '> 200' (or comparison and threshold)",
        )
    comparison = table["comparison"]
    if not isinstance(comparison, str):
        raise _error(name, "comparison", f"must be a string, got {comparison!r}")
    return comparison, cast(float, table["threshold"])


def parse_rules(
    tables: Mapping[str, object],
    *,
    models: Collection[str] | None,
    channels: Collection[str],
) -> tuple[AlertRule, ...]:
    """Every rule of a ``[rules]`` table, in order."""
    if not isinstance(tables, Mapping):
        raise ValueError(f"[rules] must be a table of rule tables, got {tables!r}")
    return tuple(
        parse_rule(name, cast(Mapping[str, object], table), models=models, channels=channels)
        for name, table in tables.items()
    )


def rule_to_table(rule: AlertRule) -> dict[str, Any]:
    """The rule's TOML table (without its name): parse_rule of it gives the rule back."""
    table: dict[str, Any] = {
        "metric": rule.metric,
        "condition": rule.condition,
        "model": rule.model,
        "version": rule.version,
        "window": rule.window,
        "for": duration_text(rule.for_s) if rule.for_s else None,
        "severity": rule.severity,
        "labels": dict(rule.labels) or None,
        "channels": list(rule.channels),
        "description": rule.description or None,
        "runbook_url": rule.runbook_url,
        "include_provisional": rule.include_provisional or None,
        "min_count": rule.min_count if rule.min_count != 1 else None,
    }
    # TOML has no null: leave out what is unset or at its default.
    return {key: value for key, value in table.items() if value is not None}
