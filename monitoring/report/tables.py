"""The report as tables: one frame per section, and a zip of them as CSV with summary.txt."""

from __future__ import annotations

import contextlib
import io
import zipfile
from typing import Any

import pandas as pd

from monitoring.report import text
from monitoring.report.data import COLUMNS, ReportData
from monitoring.report.summary import summary_paragraph

TIME_COLUMNS = ("window_start", "fired_at", "resolved_at")
# Spreadsheets run cells starting with these as formulas (CSV injection, OWASP): such text
# cells get a leading apostrophe, which spreadsheets show as text and hide.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def report_tables(data: ReportData) -> dict[str, pd.DataFrame]:
    """Every table of the report by name (the CSV file names), in the report's order."""
    frames = {
        "objectives": data.objectives,
        "performance": data.performance,
        "latency": data.latency,
        "drift_windows": data.drift_windows,
        "drift_features": data.drift_features,
        "quality": data.quality,
        "alerts": data.alerts,
        "importance": data.importance,
        "system": data.system,
    }
    tables = {"report": _about(data), "headline": headline_table(data)}
    tables.update({name: _normalised(name, frame) for name, frame in frames.items()})
    reference = data.reference or {}
    tables["reference"] = pd.DataFrame(
        {"key": list(reference), "value": [_scalar(v) for v in reference.values()]},
        columns=["key", "value"],
    )
    return tables


def headline_table(data: ReportData) -> pd.DataFrame:
    """The headline numbers with their change, its direction and whether it is good."""
    columns = ["name", "label", "current", "previous", "change", "relative_change", "direction"]
    rows = [
        {
            "name": h.name,
            "label": h.label,
            "current": text.number(h.current),
            "previous": text.number(h.previous),
            "change": h.change(),
            "relative_change": h.relative_change(),
            "direction": h.arrow(),
            "assessment": h.tone(),
        }
        for h in data.headline
    ]
    return pd.DataFrame(rows, columns=[*columns, "assessment"])


def _about(data: ReportData) -> pd.DataFrame:
    """What the report covers, when and by whom it was made."""
    items: dict[str, Any] = {
        "model": data.model,
        "task": data.task,
        "version": data.version,
        "start": _iso(data.start),
        "end": _iso(data.end),
        "generated_at": _iso(data.generated_at),
        "generated_by": data.generated_by,
        "attribution_ndcg": text.number(data.attribution_ndcg),
        "shap_units": data.units,
    }
    return pd.DataFrame({"key": list(items), "value": list(items.values())})


def _iso(value: Any) -> str | None:
    moment = text.utc(value)
    return None if moment is None else moment.isoformat()


def _scalar(value: Any) -> Any:
    """A CSV cell: lists and dicts (rare in a reference) as their text."""
    return str(value) if isinstance(value, list | dict | tuple | set) else value


def _normalised(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its known columns first, times in UTC; a column-less frame gets headers."""
    if frame is None or frame.empty:
        given = [] if frame is None else [c for c in frame.columns if c not in COLUMNS[name]]
        return pd.DataFrame(columns=[*COLUMNS[name], *given])
    known = [c for c in COLUMNS[name] if c in frame.columns]
    out = frame[[*known, *(c for c in frame.columns if c not in known)]].reset_index(drop=True)
    for column in TIME_COLUMNS:
        if column in out.columns:
            # An unparsable column stays as given rather than failing the report.
            with contextlib.suppress(TypeError, ValueError):
                out[column] = pd.to_datetime(out[column], utc=True)
    return out


def _defuse(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with text cells and headers that a spreadsheet would run as formulas defused."""
    out = frame.rename(columns=lambda c: _defuse(str(c)))
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(_defuse)
    return out


def summary_text(data: ReportData) -> str:
    """summary.txt: what the report covers, then the summary paragraph."""
    subject = data.model if data.version is None else f"{data.model} (version {data.version})"
    return (
        f"Vigil report: model {subject}\n"
        f"Range: {text.date_range(data.start, data.end)}\n"
        f"Generated {text.timestamp(data.generated_at)} by {data.generated_by}\n\n"
        f"{summary_paragraph(data)}\n"
    )


def csv_zip(data: ReportData) -> bytes:
    """A zip of report_tables as <name>.csv plus summary.txt; same data, same bytes."""
    moment = text.utc(data.generated_at)
    stamp = _ZIP_EPOCH if moment is None or moment.year < 1980 else moment.timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, content: str) -> None:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content.encode("utf-8"))

        add("summary.txt", summary_text(data))
        for name, table in report_tables(data).items():
            add(f"{name}.csv", csv_safe(table).to_csv(index=False))
    return buffer.getvalue()
