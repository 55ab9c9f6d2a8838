"""The report's one-paragraph summary: health against objectives, big moves, drift, alerts.

Plain text with user text (feature and rule names) left raw: the HTML renderer escapes it.
"""

from __future__ import annotations

import pandas as pd

from monitoring.explain import NDCG_THRESHOLD
from monitoring.report import text
from monitoring.report.data import Headline, ReportData, has

# A move smaller than this share of the previous value is noise, not news.
NOTABLE_CHANGE = 0.02
MAX_MOVES = 2
MAX_FEATURES = 3


def summary_paragraph(data: ReportData) -> str:
    """One paragraph: volume, objectives met or missed, the biggest moves, drift and alerts."""
    sentences = [
        _opening(data),
        _provisional(data.performance),
        _objectives(data.objectives),
        _moves(data.headline),
        _drift(data),
        _attribution(data.attribution_ndcg),
        _alerts(data.alerts),
    ]
    return " ".join(s for s in sentences if s)


def _headline(data: ReportData, name: str) -> Headline | None:
    return next((h for h in data.headline if h.name == name), None)


def _total(frame: pd.DataFrame, column: str) -> float | None:
    if not has(frame, column):
        return None
    values = pd.to_numeric(frame[column], errors="coerce")
    return float(values.sum()) if values.notna().any() else None


def _opening(data: ReportData) -> str:
    subject = f"model {data.model}" + ("" if data.version is None else f" (version {data.version})")
    where = f"From {text.date_range(data.start, data.end)}, {subject}"
    volume = _headline(data, "count")
    served = volume.current if volume is not None else _total(data.performance, "count")
    if text.number(served) is None:
        return f"{where} has no prediction counts in this report."
    sentence = f"{where} served {text.count(served)} predictions"
    labelled = _total(data.performance, "labelled")
    if labelled is not None and served:
        sentence += f", {text.percent(labelled / float(served))} of them labelled"
    return sentence + "."


def _provisional(performance: pd.DataFrame) -> str:
    if not has(performance, "provisional"):
        return ""
    flags = performance["provisional"].fillna(False).astype(bool)
    if not flags.any():
        return ""
    return (
        f"{text.plural(int(flags.sum()), 'window')} of {len(flags):,} "
        "are provisional: their labels are still arriving, so their metrics may change."
    )


def _objectives(objectives: pd.DataFrame) -> str:
    if not has(objectives, "objective", "met"):
        return "No objectives are set for this model."
    met = objectives["met"]
    known = met.notna()
    total = len(objectives)
    missed = objectives[known & (met == False)]  # noqa: E712 (object column: None, True, False)
    unknown = int((~known).sum())
    tail = f"; {unknown} could not be evaluated (no final windows)" if unknown else ""
    if missed.empty:
        if unknown == total:
            return f"None of its {text.plural(total, 'objective')} could be evaluated."
        scope = "its objective" if total == 1 else f"all {total - unknown} evaluated objectives"
        return f"It met {scope}{tail}."
    items = []
    for _, row in missed.iterrows():
        value = text.number(row.get("value"))
        shown = "" if value is None else f" (at {text.plain(value)})"
        items.append(f"{row['objective']}{shown}")
    return (
        f"It missed {len(missed)} of {text.plural(total, 'objective')}: "
        f"{text.join_words(items)}{tail}."
    )


def _moves(headline: list[Headline]) -> str:
    moved = [h for h in headline if h.higher_is_better is not None and h.change() is not None]
    if not moved:
        return ""

    def size(item: Headline) -> float:
        relative = item.relative_change()
        return abs(relative) if relative is not None else abs(item.change() or 0.0)

    notable = sorted((h for h in moved if size(h) >= NOTABLE_CHANGE), key=size, reverse=True)
    if not notable:
        return "Its headline numbers held steady against the previous period."
    phrases = []
    for item in notable[:MAX_MOVES]:
        verb = "rose" if (item.change() or 0) > 0 else "fell"
        before = text.metric_value(item.name, item.previous)
        after = text.metric_value(item.name, item.current)
        verdict = "better" if item.tone() == "good" else "worse"
        phrases.append(f"{item.label} {verb} from {before} to {after} ({verdict})")
    return f"Against the previous period, {text.join_words(phrases)}."


def _drifted_features(features: pd.DataFrame) -> list[tuple[str, int]]:
    """(feature, windows it drifted in), most first."""
    if not has(features, "feature", "drifted"):
        return []
    flags = features["drifted"].fillna(False).astype(bool)
    counts = features.loc[flags, "feature"].astype(str).value_counts()
    pairs = [(str(name), int(n)) for name, n in counts.items()]
    return sorted(pairs, key=lambda item: (-item[1], item[0]))


def _drift(data: ReportData) -> str:
    features = _drifted_features(data.drift_features)
    named = [f"{name} ({text.plural(int(n), 'window')})" for name, n in features[:MAX_FEATURES]]
    more = len(features) - len(named)
    listing = text.join_words([*named, *([f"{more} more"] if more > 0 else [])])
    windows = data.drift_windows
    if has(windows, "dataset_drift"):
        flags = windows["dataset_drift"].fillna(False).astype(bool)
        drifted, total = int(flags.sum()), len(flags)
        if drifted:
            sentence = f"Dataset drift was detected in {drifted} of {text.plural(total, 'window')}"
            return sentence + (f"; the most drifted features: {listing}." if listing else ".")
        sentence = f"No dataset drift was detected in {text.plural(total, 'window')}"
        if listing:
            sentence += (
                f", though {text.plural(len(features), 'feature')} drifted at times: {listing}"
            )
        return sentence + "."
    if listing:
        return f"Drifted features: {listing}."
    if has(data.drift_features, "feature"):
        return "No feature drifted."
    return "No drift was computed in this range."


def _attribution(ndcg: float | None) -> str:
    value = text.number(ndcg)
    if value is None or value >= NDCG_THRESHOLD:
        return ""
    return (
        f"The ranking of feature attributions moved away from the reference "
        f"(NDCG {value:.2f}, below {NDCG_THRESHOLD:g})."
    )


def _alerts(alerts: pd.DataFrame) -> str:
    if not has(alerts, "rule"):
        return "No alerts fired."
    sentence = f"{text.plural(len(alerts), 'alert')} fired"
    if "severity" in alerts.columns:
        counts = alerts["severity"].fillna("of unknown severity").astype(str).value_counts()
        parts = [f"{n} {severity}" for severity, n in sorted(counts.items())]
        sentence += f" ({', '.join(parts)})"
    if "resolved_at" in alerts.columns:
        firing = int(pd.isna(alerts["resolved_at"]).sum())
        if firing:
            sentence += f", {firing} still firing"
    if "duration_s" in alerts.columns:
        durations = pd.to_numeric(alerts["duration_s"], errors="coerce")
        if durations.notna().any():
            longest = alerts.iloc[int(durations.fillna(-1.0).to_numpy().argmax())]
            sentence += f"; the longest, {longest['rule']}, lasted {text.duration(durations.max())}"
    return sentence + "."
