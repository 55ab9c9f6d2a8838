"""Validation of prediction and label records into Arrow batches for the store.

Two paths give the same answer: a columnar fast path (pyarrow does the type checks) and,
only when that fails, a per-record pass that names every bad record and field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from storage import ModelInfo, normalize_class
from storage.identifiers import FEATURE_NAME_RE

# The fields of a prediction record; in tables and files every other column is a feature.
RECORD_FIELDS = frozenset(
    {
        "event_id",
        "timestamp",
        "version",
        "prediction",
        "score",
        "probabilities",
        "latency_ms",
        "tags",
    }
)
MAX_EVENT_ID = 256
MAX_EPOCH = 32_503_680_000.0
MAX_EXACT_INT = 2**53  # pyarrow refuses larger ints for float64 columns
TS_TYPE = pa.timestamp("us", tz="UTC")
PROBS_TYPE = pa.map_(pa.string(), pa.float64())
TAGS_TYPE = pa.map_(pa.string(), pa.string())


@dataclass
class RecordError:
    """One bad field of one record."""

    index: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


class RecordsInvalid(ValueError):
    """Raised with one entry per bad record field."""

    def __init__(self, errors: list[RecordError], what: str = "records") -> None:
        self.errors = errors
        super().__init__(f"{len({e.index for e in errors})} of the {what} are invalid")


@dataclass
class PredictionBatch:
    """A validated batch and the features it introduces to the model's schema."""

    table: pa.Table
    new_features: dict[str, str] = field(default_factory=dict)


def _is_number(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and -MAX_EXACT_INT <= value <= MAX_EXACT_INT


def _parse_iso(values: pd.Series) -> pd.Series:
    """ISO-8601 strings to UTC microseconds; raise ValueError naming the first bad one."""
    for value in values:
        # pandas also takes '', 'nan', 'now' and 'today'; none of them is ISO-8601.
        if not isinstance(value, str) or not value[:1].isdigit():
            raise ValueError(f"{value!r} is not ISO-8601")
    try:
        parsed = pd.to_datetime(values, format="ISO8601", utc=True)
    except (ValueError, OverflowError):
        # pandas picks one resolution per call (ns from a first nanosecond string), so a
        # batch can fail where each value parses: parse one by one, which names the bad one.
        parsed = pd.Series(
            [pd.to_datetime(v, format="ISO8601", utc=True).as_unit("us") for v in values],
            index=values.index,
            dtype=pd.DatetimeTZDtype("us", "UTC"),
        )
    return parsed.dt.as_unit("us")


def _check_ts(value: object) -> str | None:
    """None if `value` is a valid timestamp, else the reason."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return "must be an ISO-8601 string or epoch seconds"
    if isinstance(value, str):
        try:
            _parse_iso(pd.Series([value], dtype=object))
        except (ValueError, TypeError, OverflowError):
            return f"{value!r} is not an ISO-8601 timestamp (e.g. 2026-11-25T10:00:00Z)"
        return None
    if not _is_number(value) or not 0 <= value < MAX_EPOCH:  # type: ignore[operator,unused-ignore]
        return f"epoch seconds must be a number from 0 to {MAX_EPOCH:.0f} (year 3000)"
    return None


def _check_value(value: object, kind: str) -> str | None:
    """None if a feature value fits its kind, else the reason."""
    if value is None:
        return None
    if kind == "numeric":
        if isinstance(value, int | float):
            return None if _is_number(value) else "NaN, infinity and ints beyond 2**53 not allowed"
        return f"numeric feature got {type(value).__name__} {value!r}"
    if isinstance(value, str):
        return None
    return f"categorical feature got {type(value).__name__} {value!r}; send a string"


def _infer_kind(values: Sequence[object]) -> str | None:
    for value in values:
        if isinstance(value, str):
            return "categorical"
        if isinstance(value, int | float):
            return "numeric"
    return None


def _check_class(value: object, task: str) -> str | None:
    if task == "regression":
        return None if _is_number(value) and not isinstance(value, bool) else "must be a number"
    if isinstance(value, str | int | bool) or (isinstance(value, float) and value.is_integer()):
        return None
    return "must be a class label (string or integer)"


def _check_record(
    rec: object, i: int, model: ModelInfo, kinds: Mapping[str, str]
) -> list[RecordError]:
    if not isinstance(rec, dict):
        return [RecordError(i, "", "each record must be a JSON object")]
    errs = []
    event_id = rec.get("event_id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID:
        errs.append(
            RecordError(i, "event_id", f"required: a string of 1-{MAX_EVENT_ID} characters")
        )
    if (reason := _check_ts(rec.get("timestamp"))) is not None:
        errs.append(RecordError(i, "timestamp", reason))
    if rec.get("version") is not None and not isinstance(rec["version"], str):
        errs.append(RecordError(i, "version", "must be a string"))
    if "prediction" not in rec or rec["prediction"] is None:
        errs.append(RecordError(i, "prediction", "required"))
    elif (reason := _check_class(rec["prediction"], model.task)) is not None:
        errs.append(RecordError(i, "prediction", reason))
    for name in ("score", "latency_ms"):
        value = rec.get(name)
        if value is not None and (isinstance(value, bool) or not _is_number(value)):
            errs.append(RecordError(i, name, "must be a finite number"))
    score = rec.get("score")
    if _is_number(score) and not 0 <= score <= 1:  # type: ignore[operator]
        errs.append(RecordError(i, "score", "must be a probability between 0 and 1"))
    errs += _check_mapping(rec, i, "probabilities", number_values=True)
    errs += _check_mapping(rec, i, "tags", number_values=False)
    features = rec.get("features")
    if features is None:
        features = {}
    elif not isinstance(features, dict):
        return [*errs, RecordError(i, "features", "must be an object of name -> value")]
    for name, value in features.items():
        # A null value carries nothing and never makes a column, so its name is not checked.
        if value is None:
            continue
        if not isinstance(name, str) or not FEATURE_NAME_RE.fullmatch(name):
            errs.append(
                RecordError(i, f"features.{name}", "invalid feature name: use letters, digits, '_'")
            )
        elif name in kinds and (reason := _check_value(value, kinds[name])) is not None:
            errs.append(RecordError(i, f"features.{name}", reason))
    return errs


def _check_mapping(
    rec: dict[str, Any], i: int, name: str, number_values: bool
) -> list[RecordError]:
    value = rec.get(name)
    if value is None:
        return []
    if not isinstance(value, dict):
        return [RecordError(i, name, "must be an object")]
    for key, item in value.items():
        if number_values and (isinstance(item, bool) or not _is_number(item)):
            return [RecordError(i, f"{name}.{key}", "must be a finite number")]
        if not number_values and not isinstance(item, str):
            return [RecordError(i, f"{name}.{key}", "tag values must be strings")]
    return []


def _feature_kinds(
    model: ModelInfo, feats: Sequence[object]
) -> tuple[dict[str, str], dict[str, str]]:
    """The kinds of every feature in the batch, and those new to the model."""
    names: set[str] = set()
    for f in feats:
        if isinstance(f, dict):
            names.update(f.keys())
    kinds = dict(model.features)
    new: dict[str, str] = {}
    for name in sorted(n for n in names if n not in kinds and isinstance(n, str)):
        kind = _infer_kind([f.get(name) for f in feats if isinstance(f, dict)])
        if kind is not None:
            new[name] = kind
    return {**kinds, **new}, new


def _timestamps(values: list[object], now: datetime) -> pa.Array:
    """Parse ISO strings or epoch seconds (naive means UTC); missing means now."""
    series = pd.Series(values, dtype=object)
    numeric = series.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool))
    out = pd.Series(pd.NaT, index=series.index, dtype="datetime64[us, UTC]")
    if numeric.any():
        seconds = series[numeric].astype("float64")
        if not seconds.between(0, MAX_EPOCH, inclusive="left").all():
            raise ValueError("epoch out of range")
        # Whole microseconds: float seconds give ns noise (time.time()) that a us column refuses.
        micros = (seconds * 1_000_000).round().astype("int64")
        out[numeric] = pd.to_datetime(micros, unit="us", utc=True)
    strings = ~numeric & series.notna()
    if strings.any():
        out[strings] = _parse_iso(series[strings])
    out = out.fillna(pd.Timestamp(now).floor("us"))
    return pa.array(out, type=TS_TYPE)


def _columns(rows: list[dict[str, Any]], names: list[str]) -> list[Sequence[object]]:
    """One value list per name: a C-level itemgetter pass when every row has every name."""
    if not names:
        return []
    try:
        picked = list(map(itemgetter(*names), rows))
    except KeyError:  # some rows lack a feature: it is null there
        return [[row.get(name) for row in rows] for name in names]
    return [picked] if len(names) == 1 else list(zip(*picked, strict=True))


def _only_dicts(values: list[object]) -> bool:
    return all(v is None or type(v) is dict for v in values)


def _has_bool(values: list[object]) -> bool:
    return any(type(v) is bool for v in values)


def _finite(arr: pa.Array) -> bool:
    if arr.null_count == len(arr):
        return True
    return bool(pc.all(pc.is_finite(arr.drop_null())).as_py())


def _fast_predictions(
    records: list[Any], model: ModelInfo, kinds: dict[str, str], now: datetime
) -> pa.Table:
    """Columnar conversion; raises on any bad value (the caller then explains it)."""
    get = dict.get
    cols: dict[str, pa.Array] = {}
    ids = pa.array([get(r, "event_id") for r in records], type=pa.string())
    if ids.null_count:
        raise ValueError("event_id")
    lengths = pc.utf8_length(ids)
    if pc.min(lengths).as_py() < 1 or pc.max(lengths).as_py() > MAX_EVENT_ID:
        raise ValueError("event_id length")
    cols["event_id"] = ids
    cols["ts"] = _timestamps([get(r, "timestamp") for r in records], now)
    cols["version"] = pc.fill_null(
        pa.array([get(r, "version") for r in records], type=pa.string()), "1"
    )
    preds = [get(r, "prediction") for r in records]
    if model.task == "regression":
        pred_arr = pa.array(preds, type=pa.float64())
        if pred_arr.null_count or not _finite(pred_arr) or any(type(p) is bool for p in preds):
            raise ValueError("prediction")
    else:
        if any(
            type(p) not in (str, int, bool, float) or (type(p) is float and not p.is_integer())
            for p in preds
        ):
            raise ValueError("prediction")
        if not all(type(p) is str for p in preds):
            preds = [normalize_class(p) for p in preds]
        pred_arr = pa.array(preds, type=pa.string())
    cols["prediction"] = pred_arr
    for name in ("score", "latency_ms"):
        values = [get(r, name) for r in records]
        arr = pa.array(values, type=pa.float64())
        if not _finite(arr) or _has_bool(values):
            raise ValueError(name)
        cols[name] = arr
    score = cols["score"]
    if score.null_count < len(score) and (pc.min(score).as_py() < 0 or pc.max(score).as_py() > 1):
        raise ValueError("score range")
    # pyarrow also takes (key, value) lists, bools as numbers and null values: the
    # per-record checks refuse all three, so this path must too.
    probs_in = [get(r, "probabilities") for r in records]
    probs = pa.array(probs_in, type=PROBS_TYPE)
    if not _only_dicts(probs_in) or probs.items.null_count or not _finite(probs.items):
        raise ValueError("probabilities")
    if _has_bool([v for p in probs_in if p for v in p.values()]):
        raise ValueError("probabilities")
    cols["probabilities"] = probs
    tags_in = [get(r, "tags") for r in records]
    tags = pa.array(tags_in, type=TAGS_TYPE)
    if not _only_dicts(tags_in) or tags.items.null_count:
        raise ValueError("tags")
    cols["tags"] = tags
    raw_feats = [get(r, "features") for r in records]
    if not _only_dicts(raw_feats):
        raise ValueError("features")
    feats: list[dict[str, Any]] = [f or {} for f in raw_feats]
    for (name, kind), column in zip(kinds.items(), _columns(feats, list(kinds)), strict=True):
        arr = pa.array(column, type=pa.float64() if kind == "numeric" else pa.string())
        if kind == "numeric" and not _finite(arr):
            raise ValueError(name)
        cols[model.column(name)] = arr
    return pa.table(cols)


def prediction_batch(
    records: object, model: ModelInfo, now: datetime | None = None
) -> PredictionBatch:
    """Validate JSON prediction records for `model`; raise RecordsInvalid naming each error."""
    now = now or datetime.now(UTC)
    if not isinstance(records, list) or not records:
        raise RecordsInvalid([RecordError(-1, "records", "must be a non-empty list of objects")])
    dicts = [r for r in records if isinstance(r, dict)]
    kinds, new = _feature_kinds(model, [r.get("features") for r in dicts])
    try:
        if len(dicts) < len(records):
            # Explain every record, not only the ones that are not objects.
            raise ValueError("records that are not objects")
        table = _fast_predictions(records, model, kinds, now)
    except (pa.ArrowException, ValueError, TypeError, AttributeError, OverflowError):
        errors = [e for i, r in enumerate(records) for e in _check_record(r, i, model, kinds)]
        if errors:
            raise RecordsInvalid(errors) from None
        raise
    return PredictionBatch(table, new)


def label_batch(records: object, model: ModelInfo, now: datetime | None = None) -> pa.Table:
    """Validate label records {event_id, label, timestamp}; raise RecordsInvalid if bad."""
    now = now or datetime.now(UTC)
    if not isinstance(records, list) or not records:
        raise RecordsInvalid([RecordError(-1, "records", "must be a non-empty list of objects")])
    errors: list[RecordError] = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            errors.append(RecordError(i, "", "each record must be a JSON object"))
            continue
        event_id = rec.get("event_id")
        if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID:
            errors.append(
                RecordError(i, "event_id", f"required: a string of 1-{MAX_EVENT_ID} characters")
            )
        label = rec.get("label")
        if label is None:
            errors.append(RecordError(i, "label", "required"))
        elif (reason := _check_class(label, model.task)) is not None:
            errors.append(RecordError(i, "label", reason))
        if (reason := _check_ts(rec.get("timestamp"))) is not None:
            errors.append(RecordError(i, "timestamp", reason))
    if errors:
        raise RecordsInvalid(errors, "labels")
    labels = [r["label"] for r in records]
    if model.task == "regression":
        text = pa.nulls(len(labels), pa.string())
        value = pa.array(labels, type=pa.float64())
    else:
        text = pa.array([normalize_class(v) for v in labels], type=pa.string())
        value = pa.nulls(len(labels), pa.float64())
    return pa.table(
        {
            "event_id": pa.array([r["event_id"] for r in records], type=pa.string()),
            "label": text,
            "label_value": value,
            "ts": _timestamps([r.get("timestamp") for r in records], now),
        }
    )
