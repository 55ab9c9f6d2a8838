"""HTML bodies of the remaining sections: data quality, alerts, attributions, system, reference.

Like model_sections: data in, Safe HTML out, every piece of user text escaped.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from monitoring.explain import NDCG_THRESHOLD
from monitoring.report import text
from monitoring.report.data import ReportData, has, times
from monitoring.report.markup import Safe, definitions, join, paragraph, table

MAX_QUALITY_ROWS = 15
MAX_ALERT_ROWS = 50
MAX_IMPORTANCE_ROWS = 15
_REFERENCE_LABELS = {
    "id": "Reference id",
    "model": "Model",
    "version": "Version",
    "source": "Source",
    "description": "Description",
    "rows": "Rows",
    "labelled": "Labelled rows",
    "created_at": "Created",
    "range_start": "Drawn from",
    "range_end": "Drawn until",
    "range_version": "Drawn from version",
}


def _more(shown: int, total: int, csv: str) -> Safe:
    if total <= shown:
        return Safe("")
    return paragraph(f"Showing {shown:,} of {total:,}; all are in the CSV export ({csv}).", "note")


def quality_section(quality: pd.DataFrame) -> Safe:
    """The features with the most quality problems, worst first (as given)."""
    if not has(quality, "feature"):
        return paragraph("No data-quality results in this range.", "note")
    rows = [
        [
            str(row["feature"]),
            text.count(row.get("rows")),
            text.percent(row.get("missing_rate"), 2),
            text.percent(row.get("out_of_range_rate"), 2),
            text.percent(row.get("unseen_rate"), 2),
        ]
        for _, row in quality.head(MAX_QUALITY_ROWS).iterrows()
    ]
    return join(
        [
            table(
                ["Feature", "Rows", "Missing", "Out of range", "Unseen category"],
                rows,
                numeric=(1, 2, 3, 4),
            ),
            _more(len(rows), len(quality), "quality.csv"),
        ]
    )


def alerts_section(alerts: pd.DataFrame) -> Safe:
    """Every alert that fired in the range, when it resolved and how long it lasted."""
    if not has(alerts, "rule"):
        return paragraph("No alerts fired in this range.", "note")
    frame = alerts.assign(_fired=times(alerts, "fired_at"))
    frame = frame.sort_values("_fired", kind="stable")
    rows = []
    for _, row in frame.head(MAX_ALERT_ROWS).iterrows():
        resolved = row.get("resolved_at")
        still = resolved is None or pd.isna(resolved)
        rows.append(
            [
                str(row["rule"]),
                text.label(row.get("severity")),
                text.timestamp(row["_fired"]),
                "still firing" if still else text.timestamp(resolved),
                text.duration(row.get("duration_s")),
            ]
        )
    firing = int(pd.isna(alerts["resolved_at"]).sum()) if "resolved_at" in alerts.columns else 0
    lead = f"{text.plural(len(alerts), 'alert')} fired" + (
        f"; {firing} still firing at the end of the range." if firing else "."
    )
    return join(
        [
            paragraph(lead),
            table(["Rule", "Severity", "Fired", "Resolved", "Duration"], rows, numeric=(4,)),
            _more(len(rows), len(alerts), "alerts.csv"),
        ]
    )


def explanations_section(data: ReportData, figure: Safe) -> Safe:
    """Top features by mean |SHAP| and whether their ranking drifted from the reference."""
    parts: list[object] = []
    ndcg = text.number(data.attribution_ndcg)
    if ndcg is not None:
        verdict = (
            "the ranking moved away from the reference's (attribution drift)"
            if ndcg < NDCG_THRESHOLD
            else "no attribution drift"
        )
        parts.append(
            paragraph(
                f"Attribution NDCG against the reference: {ndcg:.3f} "
                f"(below {NDCG_THRESHOLD:g} means drift): {verdict}."
            )
        )
    if not has(data.importance, "feature"):
        parts.append(paragraph("No feature attributions in this range.", "note"))
        return join(parts)
    parts.append(figure)
    frame = data.importance
    if "rank" in frame.columns:
        frame = frame.sort_values("rank", kind="stable")
    unit = f" ({data.units})" if data.units else ""
    rows = [
        [
            text.count(row.get("rank")),
            str(row["feature"]),
            text.plain(row.get("mean_abs")),
            text.percent(row.get("share")),
        ]
        for _, row in frame.head(MAX_IMPORTANCE_ROWS).iterrows()
    ]
    parts.append(table(["Rank", "Feature", f"Mean |SHAP|{unit}", "Share"], rows, numeric=(0, 2, 3)))
    parts.append(_more(len(rows), len(frame), "importance.csv"))
    return join(parts)


def system_section(system: pd.DataFrame) -> Safe:
    """CPU and memory peaks per host."""
    if not has(system, "host"):
        return paragraph("No system metrics in this range.", "note")
    rows = [
        [
            str(row["host"]),
            _percent_value(row.get("cpu_peak_percent")),
            _percent_value(row.get("cpu_mean_percent")),
            _percent_value(row.get("memory_peak_percent")),
        ]
        for _, row in system.iterrows()
    ]
    return table(["Host", "CPU peak", "CPU mean", "Memory peak"], rows, numeric=(1, 2, 3))


def _percent_value(value: Any) -> str:
    """A value already in percent (0-100)."""
    number = text.number(value)
    return text.MISSING if number is None else f"{number:,.1f} %"


def reference_section(reference: dict[str, Any] | None) -> Safe:
    """The reference data set drift and attributions are measured against."""
    if not reference:
        return paragraph(
            "No reference data set is in use: drift and attribution drift need one.", "note"
        )
    items = []
    for key, value in reference.items():
        if value is None or value == "":
            continue
        if key in ("created_at", "range_start", "range_end"):
            shown = text.timestamp(value)
            shown = str(value) if shown == text.MISSING else shown
        elif key in ("rows", "labelled"):
            shown = text.count(value)
        else:
            shown = str(value)
        items.append((_REFERENCE_LABELS.get(key, key), shown))
    return definitions(items)


def about_section(data: ReportData, window: str) -> Safe:
    """When, by whom and how the report was made."""
    return definitions(
        [
            ("Model", data.model),
            ("Version", "all versions" if data.version is None else data.version),
            ("Range", text.date_range(data.start, data.end)),
            ("Compared with", "the previous period of the same length"),
            ("Window", {"1h": "1 hour", "1d": "1 day", "1w": "1 week"}.get(window, window)),
            ("Generated at", text.timestamp(data.generated_at)),
            ("Generated by", data.generated_by),
        ]
    )
