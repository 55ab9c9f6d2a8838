"""Validation of Arrow prediction batches column by column, without Python rows.

Well-typed batches are checked and cast with pyarrow compute; anything else, valid or not,
takes the record path (`prediction_batch(arrow_records(table))`), which is the reference.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collectors.records import (
    MAX_EPOCH,
    MAX_EVENT_ID,
    MAX_EXACT_INT,
    PROBS_TYPE,
    RECORD_FIELDS,
    TAGS_TYPE,
    TS_TYPE,
    PredictionBatch,
    _parse_iso,
    prediction_batch,
)
from storage import ModelInfo
from storage.identifiers import FEATURE_NAME_RE

_US_PER_UNIT = {"s": 1_000_000, "ms": 1_000, "us": 1}
_UNITS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
Ints = npt.NDArray[np.int64]
# RFC 3339 with at most microseconds, where Arrow's parser and pandas agree (checked against
# invalid dates, hour 24, second 60 and offsets beyond 23:59); anything else goes to pandas.
_NAIVE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$"
_ZONED = _NAIVE[:-1] + r"(Z|[+-]\d{2}:\d{2})$"


class NotNative(Exception):
    """The batch needs the record path: a type not handled here, or an invalid value."""


def arrow_prediction_batch(
    table: pa.Table, model: ModelInfo, now: datetime | None = None
) -> PredictionBatch:
    """Validate an Arrow batch for `model`; odd or bad batches take the record path."""
    now = now or datetime.now(UTC)
    try:
        return native_prediction_batch(table, model, now)
    except (NotNative, pa.ArrowException, ValueError, TypeError, OverflowError):
        return prediction_batch(arrow_records(table), model, now)


def native_prediction_batch(table: pa.Table, model: ModelInfo, now: datetime) -> PredictionBatch:
    """The batch validated with pyarrow compute; NotNative where the record path must decide."""
    names = table.column_names
    n = table.num_rows
    if not n or len(set(names)) < len(names) or not {"event_id", "prediction"} <= set(names):
        raise NotNative("empty, repeated column names, or no event_id or prediction")

    def col(name: str) -> pa.Array | None:
        return _plain(table.column(name)) if name in names else None

    cols: dict[str, pa.Array] = {
        "event_id": _event_ids(_require(col("event_id"))),
        "ts": _timestamps(col("timestamp"), n, now),
        "version": _versions(col("version"), n),
        "prediction": _predictions(_require(col("prediction")), model.task),
        "score": _optional_numbers(col("score"), n),
        "latency_ms": _optional_numbers(col("latency_ms"), n),
    }
    score = cols["score"]
    if score.null_count < n and not 0 <= _min(score) <= _max(score) <= 1:
        raise NotNative("score")
    cols["probabilities"] = _map(col("probabilities"), n, PROBS_TYPE)
    cols["tags"] = _map(col("tags"), n, TAGS_TYPE)
    features = _feature_arrays(table)
    kinds, new = _kinds(model, features)
    for name, kind in kinds.items():
        cols[model.column(name)] = _feature(features.get(name), kind, n)
    return PredictionBatch(pa.table(cols), new)


def _plain(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One array: chunks combined, dictionaries decoded, large and view strings as strings."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_large_string(arr.type) or pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.string())
    return arr


def _require(arr: pa.Array | None) -> pa.Array:
    if arr is None or arr.null_count:
        raise NotNative("a required column is missing or has nulls")
    return arr


def _min(arr: pa.Array) -> float:
    return float(pc.min(arr).as_py())


def _max(arr: pa.Array) -> float:
    return float(pc.max(arr).as_py())


def _is_number(typ: pa.DataType) -> bool:
    return bool(pa.types.is_integer(typ) or pa.types.is_floating(typ))


def _numbers(arr: pa.Array, bools: bool = False) -> pa.Array:
    """float64 of an int or float array; bools only where asked; no NaN, inf or int > 2**53."""
    if pa.types.is_null(arr.type) or (bools and pa.types.is_boolean(arr.type)):
        return arr.cast(pa.float64())
    if not _is_number(arr.type):
        raise NotNative(f"not a number: {arr.type}")
    if arr.null_count < len(arr):
        if pa.types.is_integer(arr.type):
            if _min(arr) < -MAX_EXACT_INT or _max(arr) > MAX_EXACT_INT:
                raise NotNative("int beyond 2**53")
        elif not pc.all(pc.is_finite(arr)).as_py():
            raise NotNative("NaN or infinity")
    return arr.cast(pa.float64())


def _optional_numbers(arr: pa.Array | None, n: int) -> pa.Array:
    return pa.nulls(n, pa.float64()) if arr is None else _numbers(arr)


def _event_ids(arr: pa.Array) -> pa.Array:
    if not pa.types.is_string(arr.type):
        raise NotNative("event_id is not a string")
    lengths = pc.utf8_length(arr)
    if _min(lengths) < 1 or _max(lengths) > MAX_EVENT_ID:
        raise NotNative("event_id length")
    return arr


def _versions(arr: pa.Array | None, n: int) -> pa.Array:
    if arr is None:
        return pa.repeat(pa.scalar("1"), n)
    if not (pa.types.is_string(arr.type) or pa.types.is_null(arr.type)):
        raise NotNative("version is not a string")
    return pc.fill_null(arr.cast(pa.string()), "1")


def _predictions(arr: pa.Array, task: str) -> pa.Array:
    """Regression: finite numbers as float64; else class labels as storage.normalize_class."""
    typ = arr.type
    if task == "regression":
        return _numbers(arr)
    if pa.types.is_string(typ):
        return arr
    if pa.types.is_integer(typ) or pa.types.is_boolean(typ):
        return arr.cast(pa.string())
    if not pa.types.is_floating(typ):
        raise NotNative(f"prediction of type {typ}")
    floats = arr.cast(pa.float64())
    whole = pc.and_(pc.is_finite(floats), pc.equal(pc.floor(floats), floats))
    if not pc.all(whole).as_py() or max(-_min(floats), _max(floats)) >= 2**63:
        raise NotNative("prediction is not a whole number")
    return floats.cast(pa.int64()).cast(pa.string())  # 1.0 -> "1", -0.0 -> "0"


def _timestamps(arr: pa.Array | None, n: int, now: datetime) -> pa.Array:
    """Epoch seconds, Arrow timestamps (naive means UTC) or ISO strings; missing means now."""
    micros = np.full(n, pa.scalar(pd.Timestamp(now).floor("us"), TS_TYPE).value, np.int64)
    if arr is not None and arr.null_count < n:
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
        micros[valid] = _micros(arr.drop_null())
    return pa.array(micros, pa.int64()).cast(TS_TYPE)


def _micros(arr: pa.Array) -> Ints:
    """Microseconds since the epoch of non-null timestamps, in the range the JSON path takes."""
    typ = arr.type
    if pa.types.is_timestamp(typ):
        raw: Ints = arr.cast(pa.int64()).to_numpy()
        # Other instants may be valid too (years 1-9999 as strings): the record path decides.
        if raw.min() < 0 or raw.max() >= int(MAX_EPOCH) * _UNITS_PER_SECOND[typ.unit]:
            raise NotNative("timestamp outside 1970-3000")
        return raw // 1_000 if typ.unit == "ns" else raw * _US_PER_UNIT[typ.unit]
    if _is_number(typ):
        seconds: npt.NDArray[np.float64] = arr.cast(pa.float64(), safe=False).to_numpy()
        if not np.all((seconds >= 0) & (seconds < MAX_EPOCH)):  # NaN fails both
            raise NotNative("epoch seconds out of range")
        # Rounded like records._timestamps: whole microseconds, half to even.
        rounded: Ints = np.round(seconds * 1_000_000).astype(np.int64)
        return rounded
    if pa.types.is_string(typ):
        return _iso_micros(arr)
    raise NotNative(f"timestamp of type {typ}")


def _iso_micros(arr: pa.Array) -> Ints:
    """ISO-8601 strings: Arrow parses RFC 3339 forms (as pandas does, 30x faster), pandas others."""
    parsed: pa.Array | None = None
    for pattern, typ in ((_ZONED, TS_TYPE), (_NAIVE, pa.timestamp("us"))):
        if pc.all(pc.match_substring_regex(arr, pattern)).as_py():
            # e.g. 2026-02-30 fails: then pandas, which refuses it too, decides.
            with contextlib.suppress(pa.ArrowInvalid):
                parsed = arr.cast(typ)
            break
    if parsed is None:
        # records._parse_iso refuses what pandas takes but is not ISO-8601 ('', 'now', 'nan').
        if not pc.all(pc.match_substring_regex(arr, "^[0-9]")).as_py():
            raise NotNative("timestamp is not ISO-8601")
        parsed = pa.array(_parse_iso(pd.Series(arr.to_pylist(), dtype=object)), TS_TYPE)
    micros: Ints = parsed.cast(pa.int64()).to_numpy()
    return micros


def _map(arr: pa.Array | None, n: int, target: pa.DataType) -> pa.Array:
    """A probabilities or tags map: string keys, each once per row, no null or bad values."""
    if arr is None or pa.types.is_null(arr.type):
        return pa.nulls(n, target)
    typ = arr.type
    if not pa.types.is_map(typ) or typ.key_type not in (pa.string(), pa.large_string()):
        raise NotNative(f"{typ} is not a map with string keys")
    offsets = arr.offsets.to_numpy()
    lengths = np.diff(offsets)
    # .keys and .items are the whole child arrays, which a sliced map only partly uses; the
    # entries of a null map (legal, if rare) are checked too, which only costs a fallback.
    start, size = int(offsets[0]), int(offsets[-1] - offsets[0])
    values = _plain(arr.items.slice(start, size))
    if values.null_count:
        raise NotNative("null map value")
    if target == PROBS_TYPE:
        _numbers(values)
    elif not pa.types.is_string(values.type):
        raise NotNative("tag values must be strings")
    if size and lengths.max() > 1:
        keys = pc.dictionary_encode(arr.keys.slice(start, size))
        parents = np.repeat(np.arange(n, dtype=np.int64), lengths)
        pairs = parents * len(keys.dictionary) + keys.indices.to_numpy()
        if pc.count_distinct(pa.array(pairs)).as_py() < size:  # hashing: 8x np.unique here
            raise NotNative("a key repeats within one map")  # the record path keeps the last
    return arr.cast(target)


def _feature_arrays(table: pa.Table) -> dict[str, pa.Array]:
    """Every feature: fields of a `features` struct, then every non-reserved column."""
    out: dict[str, pa.Array] = {}
    if "features" in table.column_names:
        struct = _plain(table.column("features"))
        if pa.types.is_struct(struct.type):
            names = [f.name for f in struct.type]
            if len(set(names)) < len(names):
                raise NotNative("repeated field names in features")
            out.update(zip(names, (_plain(a) for a in struct.flatten()), strict=True))
        elif not pa.types.is_null(struct.type):
            raise NotNative(f"features of type {struct.type}")
    for name in table.column_names:
        if name not in RECORD_FIELDS and name != "features":
            out[name] = _plain(table.column(name))
    return out


def _kind(typ: pa.DataType) -> str:
    if _is_number(typ) or pa.types.is_boolean(typ):
        return "numeric"
    if pa.types.is_string(typ):
        return "categorical"
    raise NotNative(f"feature of type {typ}")


def _kinds(
    model: ModelInfo, features: dict[str, pa.Array]
) -> tuple[dict[str, str], dict[str, str]]:
    """The kinds of every feature in the batch, and those new to the model (sorted)."""
    new: dict[str, str] = {}
    for name in sorted(features):
        arr = features[name]
        if arr.null_count == len(arr):
            continue  # a null carries nothing: no column, and its name is not checked
        if not FEATURE_NAME_RE.fullmatch(name):
            raise NotNative(f"invalid feature name {name!r}")
        kind = _kind(arr.type)
        have = model.features.get(name)
        if have is None:
            new[name] = kind
        elif have != kind:
            raise NotNative(f"feature {name} is {have}, not {kind}")
    return {**model.features, **new}, new


def _feature(arr: pa.Array | None, kind: str, n: int) -> pa.Array:
    typ = pa.float64() if kind == "numeric" else pa.string()
    if arr is None or arr.null_count == len(arr):
        return pa.nulls(n, typ)
    return _numbers(arr, bools=True) if kind == "numeric" else arr


def arrow_records(table: pa.Table) -> list[dict[str, Any]]:
    """Records from an Arrow table: reserved columns as fields, every other one a feature."""
    rows = table.to_pylist()
    feature_cols = [c for c in table.column_names if c not in RECORD_FIELDS and c != "features"]
    out = []
    for row in rows:
        rec = {k: v for k, v in row.items() if k in RECORD_FIELDS}
        feats = dict(row.get("features") or {})
        feats.update({c: row[c] for c in feature_cols})
        rec["features"] = feats
        for key in ("probabilities", "tags"):
            if isinstance(rec.get(key), list):  # Arrow maps come back as (key, value) pairs
                rec[key] = dict(rec[key])
        ts = rec.get("timestamp")
        if isinstance(ts, date):  # datetime too: both come back from Arrow timestamps
            rec["timestamp"] = ts.isoformat()
        out.append(rec)
    return out
