"""HTML bodies of the model-health sections: headline, objectives, performance, latency, drift.

Each takes the data (and the section's figures, already rendered to HTML) and returns Safe
HTML in which every piece of user text went through markup.escape.
"""

from __future__ import annotations

import pandas as pd

from monitoring.report import text
from monitoring.report.data import Headline, ReportData, has, task_metrics, times
from monitoring.report.markup import Safe, escape, join, paragraph, table, tag

# Longer series go to the CSV only: a printed page holds about this many rows.
MAX_WINDOW_ROWS = 31
MAX_DRIFT_ROWS = 20
_TONE_WORDS = {"good": "better", "bad": "worse", "neutral": "", "": ""}


def headline_section(headline: list[Headline]) -> Safe:
    """Current against previous period, with an arrow coloured by whether the move is good."""
    if not headline:
        return paragraph("No headline numbers for this range.", "note")
    rows = []
    for item in headline:
        arrow, tone = item.arrow(), item.tone()
        word = _TONE_WORDS.get(tone, "")
        mark = tag("span", arrow or text.MISSING, class_=f"arrow {tone or 'unknown'}")
        rows.append(
            [
                item.label,
                text.metric_value(item.name, item.current),
                text.metric_value(item.name, item.previous),
                text.metric_change(item.name, item.change()),
                join([mark, f" {word}" if word else ""]),
            ]
        )
    return table(
        ["Measure", "This period", "Previous period", "Change", "Trend"],
        rows,
        numeric=(1, 2, 3),
    )


def objectives_section(objectives: pd.DataFrame) -> Safe:
    """Each objective's value over the range and whether it was met."""
    if not has(objectives, "objective"):
        return paragraph("No objectives are set for this model.", "note")
    rows = []
    for _, row in objectives.iterrows():
        met = row.get("met")
        if met is None or pd.isna(met):
            status = tag("span", "not evaluated", class_="status unknown")
        elif bool(met):
            status = tag("span", "✓ met", class_="status good")
        else:
            status = tag("span", "✗ missed", class_="status bad")
        rows.append(
            [
                str(row["objective"]),
                text.plain(row.get("value")),
                status,
                text.plain(row.get("target")),
            ]
        )
    return table(["Objective", "Value", "Status", "Target"], rows, numeric=(1, 3))


def performance_section(data: ReportData, figure: Safe) -> Safe:
    """The performance chart, a line on provisional windows and, when short, the windows."""
    frame = data.performance
    parts: list[object] = [figure]
    if has(frame, "provisional"):
        flags = frame["provisional"].fillna(False).astype(bool)
        if flags.any():
            parts.append(
                paragraph(
                    f"{text.plural(int(flags.sum()), 'window')} of {len(flags):,} "
                    "are provisional (hollow markers on an orange band): too few of their "
                    "predictions are labelled yet, so their metrics may still change."
                )
            )
    if has(frame, "window_start"):
        parts.append(_window_table(data))
    return join(parts)


def _window_table(data: ReportData) -> Safe:
    frame = data.performance
    if len(frame) > MAX_WINDOW_ROWS:
        return paragraph(
            f"The {len(frame):,} windows' values are in the CSV export (performance.csv).", "note"
        )
    metrics = task_metrics(data.task, frame)[:4]
    ordered = frame.assign(_start=pd.to_datetime(frame["window_start"], utc=True))
    rows = []
    for _, row in ordered.sort_values("_start").iterrows():
        provisional = bool(row.get("provisional")) if pd.notna(row.get("provisional")) else False
        rows.append(
            [
                text.day_or_time(row["_start"]),
                text.count(row.get("count")),
                text.percent(row.get("label_coverage")),
                *(text.metric_value(m, row.get(m)) for m in metrics),
                "provisional" if provisional else "final",
            ]
        )
    headers = [
        "Window start (UTC)",
        "Predictions",
        "Labelled",
        *(text.metric_label(m) for m in metrics),
        "Status",
    ]
    return table(headers, rows, numeric=range(1, 3 + len(metrics)))


def latency_section(latency: pd.DataFrame, figure: Safe) -> Safe:
    """The latency chart and the range's worst percentiles."""
    parts: list[object] = [figure]
    facts = []
    for column, word in (
        ("latency_p50_ms", "p50"),
        ("latency_p95_ms", "p95"),
        ("latency_p99_ms", "p99"),
    ):
        if has(latency, column):
            values = pd.to_numeric(latency[column], errors="coerce")
            if values.notna().any():
                facts.append(f"{word} between {text.ms(values.min())} and {text.ms(values.max())}")
    if facts:
        parts.append(paragraph(f"Per window: {'; '.join(facts)}."))
    return join(parts)


def drifted_features(features: pd.DataFrame) -> pd.DataFrame:
    """Per feature: method, windows drifted and tested, last score and threshold; worst first."""
    columns = ["feature", "method", "drifted_windows", "tested_windows", "last_score", "threshold"]
    if not has(features, "feature", "drifted"):
        return pd.DataFrame(columns=columns)
    frame = features.assign(
        _feature=features["feature"].astype(str),
        _drifted=features["drifted"].fillna(False).astype(bool),
        _start=times(features, "window_start"),
    ).sort_values("_start", kind="stable")
    rows = []
    for name, part in frame.groupby("_feature", sort=False):
        last = part.iloc[-1]
        rows.append(
            {
                "feature": name,
                "method": str(last.get("method", "")),
                "drifted_windows": int(part["_drifted"].sum()),
                "tested_windows": len(part),
                "last_score": text.number(last.get("score")),
                "threshold": text.number(last.get("threshold")),
            }
        )
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(
        ["drifted_windows", "feature"], ascending=[False, True], ignore_index=True
    )


def drift_section(data: ReportData, heatmap: Safe, share: Safe) -> Safe:
    """Dataset drift per window, the heatmap, the share chart and the drifted features."""
    parts: list[object] = []
    windows = data.drift_windows
    if has(windows, "dataset_drift"):
        flags = windows["dataset_drift"].fillna(False).astype(bool)
        parts.append(
            paragraph(
                f"Dataset drift in {int(flags.sum())} of {text.plural(len(flags), 'window')} "
                "(a window drifts when the share of drifted features reaches the model's limit)."
            )
        )
    if has(windows, "multivariate_auc"):
        auc = pd.to_numeric(windows["multivariate_auc"], errors="coerce")
        if auc.notna().any():
            parts.append(
                paragraph(
                    f"Multivariate drift: the domain classifier's ROC AUC peaked at "
                    f"{auc.max():.3f} (0.5 means current rows look like the reference)."
                )
            )
    parts += [heatmap, share]
    summary = drifted_features(data.drift_features)
    drifted = summary[summary["drifted_windows"] > 0]
    if drifted.empty:
        if not summary.empty:
            parts.append(paragraph("No feature drifted in this range."))
        return join(parts)
    rows = [
        [
            str(row["feature"]),
            str(row["method"]),
            f"{row['drifted_windows']:,} of {row['tested_windows']:,}",
            text.plain(row["last_score"]),
            text.plain(row["threshold"]),
        ]
        for _, row in drifted.head(MAX_DRIFT_ROWS).iterrows()
    ]
    more = len(drifted) - MAX_DRIFT_ROWS
    caption = "Drifted features" + (
        f" (top {MAX_DRIFT_ROWS}; {more} more in the CSV)" if more > 0 else ""
    )
    parts.append(
        table(
            ["Feature", "Method", "Drifted windows", "Last score", "Threshold"],
            rows,
            numeric=(2, 3, 4),
            caption=caption,
        )
    )
    return join(parts)


def title_block(data: ReportData) -> Safe:
    """The document's heading: model, version, range, generated at and by."""
    version = "all versions" if data.version is None else data.version
    items = [
        ("Version", version),
        ("Task", data.task),
        ("Range", text.date_range(data.start, data.end)),
        ("Generated", f"{text.timestamp(data.generated_at)} by {data.generated_by}"),
    ]
    facts = join(
        tag("div", join([tag("span", label, class_="label"), " ", tag("span", value)]))
        for label, value in items
    )
    return tag(
        "header",
        join(
            [
                tag("p", "Vigil model report", class_="kicker"),
                tag("h1", data.model),
                tag("div", facts, class_="facts"),
            ]
        ),
    )


def summary_section(paragraph_text: str) -> Safe:
    """The summary paragraph, escaped."""
    return tag("p", escape(paragraph_text), class_="summary")
