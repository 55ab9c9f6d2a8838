"""storage.explanations against a real DuckDB file and pandas on the same records.

Predictions and labels go in through the real IngestService; explanations are synthetic
attributions (storage does not care where they come from), kept in a pandas frame too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from collectors.ingest import IngestService
from storage import ModelInfo, Store, Writer
from storage.explanations import (
    META_COLUMNS,
    attribution_columns,
    count_explained,
    explained_rows,
    get_explanation,
    importance,
    importance_series,
    insert_explanations,
    prediction_rows,
    recent_predictions,
    unexplained,
)

T0 = datetime(2026, 11, 18, 7, tzinfo=UTC)
DAYS = 2
END = T0 + timedelta(days=DAYS)
FEATURES = {"x": "numeric", "region": "categorical"}
SHA = "ab" * 32
SCALES = {"x": 2.0, "region": 0.5, "z": 1.0}  # distinct sizes, so rankings are clear


def make_records(task: str, n: int = 600, seed: int = 0) -> tuple[list[Any], list[Any], Any]:
    """Prediction and label records, and the same rows as a frame (label None if unlabelled)."""
    rng = np.random.default_rng(seed)
    ms = np.sort(rng.choice(DAYS * 86_400_000, n, replace=False))  # distinct timestamps
    regions = rng.choice(["north", "south", "east"], n)
    xs = np.round(rng.normal(0, 1, n), 6)
    scores = np.round(rng.random(n), 6)
    if task == "regression":
        predictions: list[Any] = np.round(rng.normal(50, 10, n), 3).tolist()
        truths: list[Any] = np.round(rng.normal(50, 10, n), 3).tolist()
    else:
        classes = ["0", "1"] if task == "binary" else ["a", "b", "c"]
        predictions = rng.choice(classes, n).tolist()
        truths = rng.choice(classes, n).tolist()
    labelled = rng.random(n) < 0.6
    records, labels, rows = [], [], []
    for i in range(n):
        ts = T0 + timedelta(milliseconds=int(ms[i]))
        x = None if i % 11 == 0 else float(xs[i])
        region = None if i % 13 == 0 else str(regions[i])
        score = float(scores[i]) if task == "binary" and i % 10 != 3 else None
        record: dict[str, Any] = {
            "event_id": f"e{i}",
            "timestamp": ts.isoformat(),
            "version": "2" if i % 3 == 0 else "1",
            "features": {k: v for k, v in (("x", x), ("region", region)) if v is not None},
            "prediction": predictions[i],
            "tags": {"channel": "web" if i % 2 else "app"},
        }
        if score is not None:
            record["score"] = score
        records.append(record)
        if labelled[i]:
            labels.append({"event_id": f"e{i}", "label": truths[i], "timestamp": ts.isoformat()})
        label = truths[i] if labelled[i] else None
        channel = record["tags"]["channel"]
        rows.append(
            (f"e{i}", ts, record["version"], x, region, channel, predictions[i], score, label)
        )
    columns = ["event_id", "ts", "version", "x", "region", "channel", "prediction", "score"]
    frame = pd.DataFrame(rows, columns=[*columns, "label"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["score"] = frame["score"].astype(float)
    return records, labels, frame


def load(ingest: IngestService, task: str = "binary") -> tuple[ModelInfo, pd.DataFrame]:
    records, labels, frame = make_records(task)
    ingest.register(task, {"task": task, "positive_class": "1", "features": FEATURES})
    ingest.predictions(task, records)
    ingest.labels(task, labels)
    return ingest.model(task), frame


def attributions(rows: pd.DataFrame, features: list[str], seed: int) -> pd.DataFrame:
    """A frame insert_explanations takes, with random attributions for `rows`."""
    rng = np.random.default_rng(seed)
    n = len(rows)
    frame = pd.DataFrame(
        {
            "event_id": rows["event_id"].to_numpy(),
            "ts": rows["ts"].to_numpy(),  # object Timestamps, as a caller may pass them
            "version": rows["version"].to_numpy(),
            "sha256": SHA,
            "base_value": rng.normal(0, 1, n),
            "output": rng.normal(0, 1, n),
            "units": "log-odds",
            "explained_class": ["1" if i % 4 else None for i in range(n)],
        }
    )
    for feature in features:
        frame[feature] = rng.normal(0, SCALES[feature], n)
    return frame


def store_explanations(writer: Writer, model: ModelInfo, frame: pd.DataFrame) -> int:
    return writer.run(lambda con: insert_explanations(con, model, frame))


def expected_importance(explained: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """pandas: mean |a| and count per feature (per keys), NULL attributions left out."""
    features = [c for c in explained.columns if c in SCALES]
    long = explained.melt(id_vars=keys or None, value_vars=features, var_name="feature")
    long = long.dropna(subset=["value"]).assign(value=lambda f: f["value"].abs())
    return long.groupby([*keys, "feature"])["value"].agg(["mean", "count"])


def as_dict(frame: pd.DataFrame, keys: list[str]) -> dict[Any, tuple[float, int]]:
    return {
        tuple(r[k] for k in [*keys, "feature"]): (r["mean_abs"], r["n"])
        for r in frame.to_dict("records")
    }


def close(got: dict[Any, tuple[float, int]], want: pd.DataFrame) -> None:
    """DuckDB's (mean_abs, n) per key equal pandas' (mean, count)."""
    assert got.keys() == {k if isinstance(k, tuple) else (k,) for k in want.index}
    for key, (mean, count) in got.items():
        row = want.loc[key if len(key) > 1 else key[0]]
        assert mean == pytest.approx(row["mean"], rel=1e-12)
        assert count == row["count"]


@pytest.fixture
def binary(ingest: IngestService) -> tuple[ModelInfo, pd.DataFrame]:
    return load(ingest, "binary")


@pytest.fixture
def explained(
    writer: Writer, store: Store, binary: tuple[ModelInfo, pd.DataFrame]
) -> tuple[ModelInfo, pd.DataFrame, pd.DataFrame]:
    """The binary model with about half its predictions explained (a stable hash sample)."""
    model, frame = binary
    rows = unexplained(store.cursor(), model, T0, END, sample_share=0.5, limit=10_000)
    stored = attributions(rows, ["x", "region"], seed=1)
    assert store_explanations(writer, model, stored) == len(rows)
    return model, frame, stored


def test_nothing_is_explained_before_the_first_insert(
    store: Store, binary: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, frame = binary
    con = store.cursor()
    assert attribution_columns(con, model) is None
    assert get_explanation(con, model, "e1") is None
    assert count_explained(con, model, T0, END) == 0
    assert importance(con, model, T0, END).empty
    assert list(importance(con, model, T0, END).columns) == ["feature", "mean_abs", "n"]
    series = importance_series(con, model, T0, END, "1h")
    assert series.empty and list(series.columns) == ["window_start", "feature", "mean_abs", "n"]
    rows = explained_rows(con, model, T0, END)
    assert rows.empty and list(rows.columns) == [
        "event_id", "feature", "attribution", "value_num", "value_text",
    ]  # fmt: skip
    assert len(unexplained(con, model, T0, END, limit=10_000)) == len(frame)
    recent = recent_predictions(con, model, T0, END, limit=5)
    assert len(recent) == 5 and not recent["explained"].any()


def test_get_explanation_round_trips(
    store: Store, explained: tuple[ModelInfo, pd.DataFrame, pd.DataFrame]
) -> None:
    model, frame, stored = explained
    con = store.cursor()
    assert attribution_columns(con, model) == ["x", "region"]
    for row in stored.iloc[:6].to_dict("records"):
        got = get_explanation(con, model, row["event_id"])
        assert got is not None
        assert set(got) == {
            "event_id", "ts", "version", "explained_at", "sha256", "base_value", "output",
            "units", "explained_class", "attributions",
        }  # fmt: skip
        assert got["ts"] == frame.set_index("event_id").loc[row["event_id"], "ts"]
        assert got["explained_at"].tzinfo is not None
        assert (got["version"], got["sha256"], got["units"]) == (row["version"], SHA, "log-odds")
        assert got["base_value"] == row["base_value"] and got["output"] == row["output"]
        cls = row["explained_class"]  # pandas 3 keeps None in a str column as NaN
        assert got["explained_class"] == (cls if isinstance(cls, str) else None)
        assert got["attributions"] == {"x": row["x"], "region": row["region"]}
    assert get_explanation(con, model, "no-such-event") is None


def test_insert_replaces_the_same_event_id(
    writer: Writer, store: Store, explained: tuple[ModelInfo, pd.DataFrame, pd.DataFrame]
) -> None:
    model, _, stored = explained
    con = store.cursor()
    before = count_explained(con, model, T0, END)
    again = attributions(stored.iloc[:3], ["x", "region"], seed=7)
    again.loc[1, "region"] = np.nan  # a NaN attribution is stored as NULL
    later = attributions(stored.iloc[:1], ["x", "region"], seed=8)
    # Within one frame the last row of an event wins, as a later insert would.
    assert store_explanations(writer, model, pd.concat([again, later], ignore_index=True)) == 3
    assert count_explained(con, model, T0, END) == before
    first = get_explanation(con, model, stored["event_id"][0])
    assert first is not None and first["base_value"] == later["base_value"][0]
    assert first["attributions"] == {"x": later["x"][0], "region": later["region"][0]}
    second = get_explanation(con, model, stored["event_id"][1])
    assert second is not None and second["attributions"] == {"x": again["x"][1]}


def test_insert_extends_the_table_when_a_feature_is_added(
    ingest: IngestService,
    writer: Writer,
    store: Store,
    explained: tuple[ModelInfo, pd.DataFrame, pd.DataFrame],
) -> None:
    model, _, stored = explained
    features = {**FEATURES, "z": "numeric"}
    model = ingest.register("binary", {"task": "binary", "features": features})
    newer = attributions(stored.iloc[:40], ["x", "region", "z"], seed=3)
    assert store_explanations(writer, model, newer) == 40
    con = store.cursor()
    assert attribution_columns(con, model) == ["x", "region", "z"]
    renewed = get_explanation(con, model, newer["event_id"][0])
    assert renewed is not None and set(renewed["attributions"]) == {"x", "region", "z"}
    old = get_explanation(con, model, stored["event_id"].iloc[-1])
    assert old is not None and set(old["attributions"]) == {"x", "region"}
    # An insert without z replaces z with NULL (a whole-row replacement).
    store_explanations(writer, model, attributions(stored.iloc[:1], ["x", "region"], seed=4))
    again = get_explanation(con, model, stored["event_id"][0])
    assert again is not None and set(again["attributions"]) == {"x", "region"}
    got = importance(con, model, T0, END).set_index("feature")
    assert got.loc["z", "n"] == 39 and got.loc["x", "n"] == len(stored)


def test_importance_matches_pandas(
    store: Store, explained: tuple[ModelInfo, pd.DataFrame, pd.DataFrame]
) -> None:
    model, frame, stored = explained
    con = store.cursor()
    start, end = T0 + timedelta(hours=5), T0 + timedelta(hours=30)
    both = stored.merge(
        frame[["event_id", "region", "channel"]], on="event_id", suffixes=("", "_v")
    )
    both["ts"] = pd.to_datetime(both["ts"], utc=True)
    in_range = both[(both.ts >= start) & (both.ts < end)]
    got = importance(con, model, start, end)
    assert list(got.columns) == ["feature", "mean_abs", "n"]
    assert got["feature"].tolist() == ["x", "region"]  # largest first
    close(as_dict(got, []), expected_importance(in_range[["x", "region"]], []))
    of_version = in_range[in_range.version == "2"][["x", "region"]]
    close(as_dict(importance(con, model, start, end, "2"), []), expected_importance(of_version, []))
    north = in_range[in_range.region_v == "north"][["x", "region"]]
    got_north = importance(con, model, start, end, segment=("region", "north"))
    close(as_dict(got_north, []), expected_importance(north, []))
    web = in_range[(in_range.channel == "web") & (in_range.version == "1")][["x", "region"]]
    got_web = importance(con, model, start, end, "1", segment=("tag:channel", "web"))
    close(as_dict(got_web, []), expected_importance(web, []))
    assert count_explained(con, model, start, end) == len(in_range)
    assert count_explained(con, model, start, end, "2") == (in_range.version == "2").sum()
    with pytest.raises(ValueError, match="segments need"):
        importance(con, model, start, end, segment=("x", "1"))


@pytest.mark.parametrize("window", ["1h", "1d"])
def test_importance_series_matches_pandas_per_window(
    store: Store, explained: tuple[ModelInfo, pd.DataFrame, pd.DataFrame], window: str
) -> None:
    model, _, stored = explained
    start = T0 + timedelta(hours=3)
    got = importance_series(store.cursor(), model, start, END, window, "1")
    assert list(got.columns) == ["window_start", "feature", "mean_abs", "n"]
    assert str(got["window_start"].dt.tz) == "UTC"
    assert got["window_start"].is_monotonic_increasing
    part = stored.assign(ts=pd.to_datetime(stored["ts"], utc=True))
    part = part[(part.ts >= start) & (part.version == "1")]
    part = part.assign(window_start=part.ts.dt.floor(window))[["window_start", "x", "region"]]
    close(as_dict(got, ["window_start"]), expected_importance(part, ["window_start"]))
    with pytest.raises(ValueError, match="unknown window '2h'"):
        importance_series(store.cursor(), model, start, END, "2h")


def test_unexplained_leaves_out_explained_and_samples_stably(
    writer: Writer, store: Store, binary: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, frame = binary
    con = store.cursor()
    everything = unexplained(con, model, T0, END, limit=10_000)
    assert len(everything) == len(frame)
    sample = unexplained(con, model, T0, END, sample_share=0.3, limit=10_000)
    pd.testing.assert_frame_equal(
        sample, unexplained(con, model, T0, END, sample_share=0.3, limit=10_000)
    )
    assert 0.2 * len(frame) < len(sample) < 0.4 * len(frame)
    assert set(sample["event_id"]) < set(everything["event_id"])
    # Explain a third of the sample and some rows outside it.
    done = pd.concat(
        [sample.iloc[::3], everything[~everything.event_id.isin(sample.event_id)][:50]]
    )
    store_explanations(writer, model, attributions(done, ["x"], seed=2))
    rest = unexplained(con, model, T0, END, sample_share=0.3, limit=10_000)
    assert rest["event_id"].tolist() == [
        e for e in sample["event_id"] if e not in set(done.event_id)
    ]
    left = unexplained(con, model, T0, END, limit=10_000)
    assert set(left["event_id"]) == set(frame["event_id"]) - set(done["event_id"])
    # Newest first, at most `limit`, of one version when asked.
    newest = frame[~frame.event_id.isin(done.event_id) & (frame.version == "2")]
    newest = newest.sort_values("ts", ascending=False)[:25]
    got = unexplained(con, model, T0, END, version="2", limit=25)
    assert got["event_id"].tolist() == newest["event_id"].tolist()
    with pytest.raises(ValueError, match="sample_share must be in"):
        unexplained(con, model, T0, END, sample_share=0)
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        unexplained(con, model, T0, END, limit=0)


def same_rows(got: pd.DataFrame, want: pd.DataFrame, columns: list[str]) -> None:
    """Equal cells, NaN and None alike."""
    for column in columns:
        a = got[column].astype(object).where(got[column].notna(), None).tolist()
        b = want[column].astype(object).where(want[column].notna(), None).tolist()
        assert a == b, column


def test_prediction_rows_are_explain_frames(
    store: Store, binary: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, frame = binary
    ids = ["e26", "e0", "nope", "e13", "e5", "e0"]  # e0: x missing, e13/e26: region missing
    got = prediction_rows(store.cursor(), model, ids)
    assert list(got.columns) == [
        "event_id", "ts", "version", "prediction", "score", "label", "x", "region",
    ]  # fmt: skip
    assert got["event_id"].tolist() == ["e26", "e0", "e13", "e5"]
    assert got["x"].dtype == np.float64 and got["region"].dtype == object
    assert got["score"].dtype == np.float64 and str(got["ts"].dt.tz) == "UTC"
    want = frame.set_index("event_id").loc[got["event_id"]].reset_index()
    columns = ["event_id", "ts", "version", "prediction", "score", "label", "x", "region"]
    same_rows(got, want, columns)
    assert got["region"].tolist()[0] is None and np.isnan(got["x"][1])
    empty = prediction_rows(store.cursor(), model, [])
    assert empty.empty and list(empty.columns) == list(got.columns)
    with pytest.raises(ValueError, match="must be a list of ids"):
        prediction_rows(store.cursor(), model, "e1")


def test_prediction_rows_of_a_regression_model(ingest: IngestService, store: Store) -> None:
    model, frame = load(ingest, "regression")
    got = prediction_rows(store.cursor(), model, frame["event_id"][:30].tolist())
    assert got["prediction"].dtype == np.float64 and got["label"].dtype == np.float64
    same_rows(got, frame[:30], ["event_id", "prediction", "label", "x", "region"])


def test_recent_predictions_newest_first_with_explained_flags(
    store: Store, explained: tuple[ModelInfo, pd.DataFrame, pd.DataFrame]
) -> None:
    model, frame, stored = explained
    start, end = T0 + timedelta(hours=2), T0 + timedelta(hours=40)
    got = recent_predictions(store.cursor(), model, start, end, "1", limit=30)
    assert list(got.columns) == [
        "event_id", "ts", "version", "prediction", "score", "label", "explained",
    ]  # fmt: skip
    want = frame[(frame.ts >= start) & (frame.ts < end) & (frame.version == "1")]
    want = want.sort_values("ts", ascending=False)[:30]
    same_rows(got, want, ["event_id", "ts", "version", "prediction", "score", "label"])
    assert got["explained"].dtype == bool
    assert got["explained"].tolist() == want["event_id"].isin(stored["event_id"]).tolist()
    with pytest.raises(ValueError, match="unknown order"):
        recent_predictions(store.cursor(), model, start, end, order="best")  # type: ignore[arg-type]


def test_worst_binary_predictions_by_distance_from_the_truth(
    store: Store, explained: tuple[ModelInfo, pd.DataFrame, pd.DataFrame]
) -> None:
    model, frame, stored = explained
    got = recent_predictions(store.cursor(), model, T0, END, limit=10_000, order="worst")
    wrong = frame[frame.label.notna() & (frame.prediction != frame.label)]
    distance = (wrong.score - (wrong.label == "1").astype(float)).abs()
    want = wrong.assign(distance=distance).sort_values(
        ["distance", "ts"], ascending=[False, False], na_position="last"
    )
    assert got["event_id"].tolist() == want["event_id"].tolist()
    assert wrong.score.isna().any()  # rows without a score come last
    assert got["explained"].tolist() == want["event_id"].isin(stored["event_id"]).tolist()
    top = recent_predictions(store.cursor(), model, T0, END, limit=5, order="worst")
    assert top["event_id"].tolist() == want["event_id"][:5].tolist()


def test_worst_multiclass_predictions_are_the_wrong_ones_newest_first(
    ingest: IngestService, store: Store
) -> None:
    model, frame = load(ingest, "multiclass")
    got = recent_predictions(store.cursor(), model, T0, END, limit=40, order="worst")
    wrong = frame[frame.label.notna() & (frame.prediction != frame.label)]
    want = wrong.sort_values("ts", ascending=False)[:40]
    assert got["event_id"].tolist() == want["event_id"].tolist()


def test_worst_regression_predictions_by_absolute_error(
    ingest: IngestService, store: Store
) -> None:
    model, frame = load(ingest, "regression")
    got = recent_predictions(store.cursor(), model, T0, END, "2", limit=50, order="worst")
    labelled = frame[frame.label.notna() & (frame.version == "2")]
    error = (labelled.prediction - labelled.label.astype(float)).abs()
    want = labelled.assign(error=error).sort_values(["error", "ts"], ascending=False)[:50]
    assert got["event_id"].tolist() == want["event_id"].tolist()
    same_rows(got, want, ["prediction", "label"])


def test_explained_rows_are_a_long_frame_of_a_stable_sample(
    store: Store, explained: tuple[ModelInfo, pd.DataFrame, pd.DataFrame]
) -> None:
    model, frame, stored = explained
    con = store.cursor()
    start, end = T0 + timedelta(hours=4), T0 + timedelta(hours=44)
    everything = explained_rows(con, model, start, end, limit=10_000)
    assert list(everything.columns) == [
        "event_id", "feature", "attribution", "value_num", "value_text",
    ]  # fmt: skip
    ts = pd.to_datetime(stored["ts"], utc=True)
    part = stored[(ts >= start) & (ts < end)].merge(
        frame[["event_id", "x", "region"]], on="event_id", suffixes=("", "_value")
    )
    assert len(everything) == 2 * len(part)
    want = part.melt(id_vars=["event_id"], value_vars=["x", "region"], var_name="feature")
    got = everything.set_index(["event_id", "feature"])["attribution"]
    assert got.to_dict() == want.set_index(["event_id", "feature"])["value"].to_dict()
    values = part.set_index("event_id")
    xs = everything[everything.feature == "x"].set_index("event_id")
    same_rows(xs, values.loc[xs.index].rename(columns={"x_value": "value_num"}), ["value_num"])
    assert xs["value_text"].tolist() == [
        "missing" if np.isnan(v) else f"{v:.6g}" for v in values.loc[xs.index, "x_value"]
    ]
    regions = everything[everything.feature == "region"].set_index("event_id")
    assert regions["value_num"].isna().all()
    assert regions["value_text"].tolist() == [
        v if isinstance(v, str) else "missing" for v in values.loc[regions.index, "region_value"]
    ]
    sample = explained_rows(con, model, start, end, limit=50)
    assert sample["event_id"].nunique() == 50 and len(sample) == 100
    pd.testing.assert_frame_equal(sample, explained_rows(con, model, start, end, limit=50))
    north = explained_rows(con, model, start, end, "1", ("region", "north"), limit=10_000)
    want_north = part[(part.region_value == "north") & (part.version == "1")]
    assert set(north["event_id"]) == set(want_north["event_id"])
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        explained_rows(con, model, start, end, limit=0)


def test_insert_refuses_bad_frames(
    writer: Writer, store: Store, binary: tuple[ModelInfo, pd.DataFrame]
) -> None:
    model, frame = binary
    good = attributions(frame[:5], ["x", "region"], seed=0)
    with pytest.raises(ValueError, match="lack column"):
        store_explanations(writer, model, good.drop(columns="units"))
    with pytest.raises(ValueError, match=r"unknown feature\(s\) 'nope'"):
        store_explanations(writer, model, good.assign(nope=1.0))
    with pytest.raises(ValueError, match="missing values in ts"):
        store_explanations(writer, model, good.assign(ts=None))
    assert store_explanations(writer, model, good[:0]) == 0
    assert attribution_columns(store.cursor(), model) is None  # nothing written
    assert set(META_COLUMNS) < set(good.columns)
