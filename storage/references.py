"""Reference data sets: what drift compares each window against, one table per reference.

A reference is an uploaded file or a copy of a range of logged predictions. Its rows live in
`reference_<id>` (columns f_<feature>, prediction, label, label_value) so that drift reads a
reference the same way it reads predictions: one typed column per feature. Identifiers reach
SQL only through storage.identifiers; every value is a parameter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from storage.identifiers import quote
from storage.models import FEATURE_KINDS, ModelInfo
from storage.performance import filters
from storage.time_windows import aware

PREDICTION_COLUMN = "@prediction"
TARGET_COLUMN = "@target"
RESERVED_COLUMNS = (PREDICTION_COLUMN, TARGET_COLUMN)

_INFO_COLUMNS = (
    "id, version, source, description, rows, labelled, created_at, "
    "range_start, range_end, range_version"
)
_UPLOAD_VIEW = "vigil_reference_upload"


@dataclass(frozen=True)
class ReferenceInfo:
    """A stored reference data set of a model."""

    id: int
    model: str
    version: str | None
    source: str
    description: str
    rows: int
    labelled: int
    created_at: datetime
    range_start: datetime | None = None
    range_end: datetime | None = None
    range_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 strings."""
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


def one_row(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    """The first row of a result, read to the end: duckdb 2.0 refuses con.sql() on a
    connection whose last result was only partly fetched (fetchone leaves it open)."""
    rows = result.fetchall()
    return rows[0] if rows else None


def reference_table(reference_id: int) -> str:
    """The table holding a reference's rows, by its numeric id (names never reach SQL)."""
    if isinstance(reference_id, bool) or not isinstance(reference_id, int) or reference_id < 0:
        raise ValueError(f"invalid reference id {reference_id!r}")
    return f"reference_{reference_id}"


def target_sql(model: ModelInfo, alias: str = "p") -> str:
    """The column holding a row's label: its text, or its value for regression."""
    return f"{alias}.label_value" if model.task == "regression" else f"{alias}.label"


def _create_table(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> tuple[int, str]:
    """A new reference id and its empty table, typed like the model's predictions."""
    row = one_row(con.execute("SELECT nextval('reference_ids')"))
    assert row is not None
    reference_id = int(row[0])
    table = quote(reference_table(reference_id))
    columns = [f"{quote(model.column(f))} {FEATURE_KINDS[k]}" for f, k in model.features.items()]
    columns += [f"prediction {model.prediction_type}", "label VARCHAR", "label_value DOUBLE"]
    con.execute(f"CREATE TABLE {table} ({', '.join(columns)})")
    return reference_id, table


def _record(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    reference_id: int,
    values: Mapping[str, Any],
) -> ReferenceInfo:
    """Count the reference's rows and labels, store its metadata row and return it."""
    table = quote(reference_table(reference_id))
    counted = one_row(con.execute(f"SELECT count(*), count({target_sql(model)}) FROM {table} p"))
    assert counted is not None
    row = one_row(
        con.execute(
            "INSERT INTO model_references (id, model_id, version, source, description, "
            "range_start, range_end, range_version, rows, labelled, created_at) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()) RETURNING {_INFO_COLUMNS}",
            [
                reference_id,
                model.id,
                values.get("version"),
                values["source"],
                values["description"],
                values.get("range_start"),
                values.get("range_end"),
                values.get("range_version"),
                int(counted[0]),
                int(counted[1]),
            ],
        )
    )
    assert row is not None
    return _info(model, row)


def _info(model: ModelInfo, row: Sequence[Any]) -> ReferenceInfo:
    return ReferenceInfo(
        id=int(row[0]),
        model=model.name,
        version=row[1],
        source=row[2],
        description=row[3],
        rows=int(row[4]),
        labelled=int(row[5]),
        created_at=row[6],
        range_start=row[7],
        range_end=row[8],
        range_version=row[9],
    )


def _class_text(column: str, arrow_type: pa.DataType) -> str:
    """SQL giving the class text of an uploaded column (normalize_class: 1.0 is "1")."""
    if pa.types.is_floating(arrow_type):
        return (
            f"CASE WHEN {column} = trunc({column}) AND abs({column}) < 1e18 "
            f"THEN CAST(CAST({column} AS BIGINT) AS VARCHAR) ELSE CAST({column} AS VARCHAR) END"
        )
    return f"CAST({column} AS VARCHAR)"


def create_reference(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    table: pa.Table,
    *,
    version: str | None,
    description: str,
) -> ReferenceInfo:
    """Store an uploaded reference (call inside a writer transaction).

    `table` holds some of the model's features plus optionally PREDICTION_COLUMN and
    TARGET_COLUMN; features it lacks are NULL. Raises ValueError on 0 rows or an unknown column.
    """
    names = table.column_names
    unknown = [c for c in names if c not in model.features and c not in RESERVED_COLUMNS]
    if unknown:
        allowed = [*model.features, *RESERVED_COLUMNS]
        raise ValueError(
            f"reference for model {model.name!r} has unknown column(s) "
            f"{', '.join(map(repr, unknown))}: use {', '.join(allowed)}"
        )
    duplicated = sorted({c for c in names if names.count(c) > 1})
    if duplicated:
        raise ValueError(f"reference has duplicate column(s) {', '.join(map(repr, duplicated))}")
    if table.num_rows == 0:
        raise ValueError(f"reference for model {model.name!r} has no rows: upload at least one")
    classification = model.task != "regression"
    targets, selected = [], []
    for name, kind in model.features.items():
        if name in names:
            targets.append(quote(model.column(name)))
            selected.append(f"CAST(u.{quote(name)} AS {FEATURE_KINDS[kind]})")
    for name, column in ((PREDICTION_COLUMN, "prediction"), (TARGET_COLUMN, None)):
        if name not in names:
            continue
        source = f"u.{quote(name)}"
        if column is None:
            column = "label" if classification else "label_value"
        targets.append(column)
        if classification:
            selected.append(_class_text(source, table.schema.field(name).type))
        else:
            selected.append(f"CAST({source} AS DOUBLE)")
    reference_id, ref_table = _create_table(con, model)
    if targets:
        con.register(_UPLOAD_VIEW, table)
        try:
            con.execute(
                f"INSERT INTO {ref_table} ({', '.join(targets)}) "
                f"SELECT {', '.join(selected)} FROM {_UPLOAD_VIEW} u"
            )
        finally:
            # An aborted transaction may refuse this; the next register() replaces the view.
            with contextlib.suppress(duckdb.Error):
                con.unregister(_UPLOAD_VIEW)
    else:  # no column at all: rows of NULLs, as many as uploaded
        con.execute(f"INSERT INTO {ref_table} (label) SELECT NULL FROM range(?)", [table.num_rows])
    values = {"version": version, "source": "upload", "description": description}
    return _record(con, model, reference_id, values)


def reference_from_range(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    start: datetime,
    end: datetime,
    *,
    version: str | None,
    source_version: str | None = None,
    max_rows: int = 1_000_000,
) -> ReferenceInfo:
    """Copy the logged predictions of [start, end) (of source_version only, when given).

    Above max_rows, about max_rows rows are kept, chosen by a hash of their event_id.
    Raises ValueError when the range holds no predictions.
    """
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"max_rows must be a positive integer, got {max_rows!r}")
    lo, hi = aware(start, "start"), aware(end, "end")
    where, params = filters(model, lo, hi, source_version, None)
    row = con.execute(f"SELECT count(*) FROM {quote(model.table)} p WHERE {where}", params)
    total = int((one_row(row) or (0,))[0])
    if total == 0:
        of_version = f" of version {source_version!r}" if source_version is not None else ""
        raise ValueError(
            f"model {model.name!r} has no predictions{of_version} from {lo.isoformat()} to "
            f"{hi.isoformat()}: choose a range (or version) that holds predictions, "
            "or upload a reference file"
        )
    if total > max_rows:
        where += " AND hash(p.event_id) < ?::UBIGINT"
        params = [*params, int(max_rows / total * (2**64 - 1))]
    reference_id, ref_table = _create_table(con, model)
    # The rows keep their event_id, so that erasing a subject finds its copies here exactly.
    con.execute(f"ALTER TABLE {ref_table} ADD COLUMN event_id VARCHAR")
    columns = [*(quote(model.column(f)) for f in model.features), "prediction", "label"]
    columns += ["label_value", "event_id"]
    con.execute(
        f"INSERT INTO {ref_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(f'p.{c}' for c in columns)} FROM {quote(model.table)} p WHERE {where}",
        params,
    )
    values = {
        "version": version,
        "source": "range",
        "description": f"predictions {lo.isoformat()} to {hi.isoformat()}",
        "range_start": lo,
        "range_end": hi,
        "range_version": source_version,
    }
    return _record(con, model, reference_id, values)


def active_reference(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, version: str | None
) -> ReferenceInfo | None:
    """The reference drift uses for a version.

    For a version: its newest version-specific reference, else the newest model-wide one.
    For None: the newest model-wide reference, else the newest of any version.
    """
    params: list[Any] = [model.id]
    if version is None:
        scope, first = "", "version IS NULL"  # model-wide first, then any version
    else:
        scope, first = " AND (version = ? OR version IS NULL)", "version IS NOT NULL"
        params.append(str(version))
    row = one_row(
        con.execute(
            f"SELECT {_INFO_COLUMNS} FROM model_references WHERE model_id = ?{scope} "
            f"ORDER BY {first} DESC, created_at DESC, id DESC LIMIT 1",
            params,
        )
    )
    return None if row is None else _info(model, row)


def list_references(con: duckdb.DuckDBPyConnection, model: ModelInfo) -> list[ReferenceInfo]:
    """Every reference of a model, newest first."""
    rows = con.execute(
        f"SELECT {_INFO_COLUMNS} FROM model_references WHERE model_id = ? "
        "ORDER BY created_at DESC, id DESC",
        [model.id],
    ).fetchall()
    return [_info(model, row) for row in rows]


def get_reference(
    con: duckdb.DuckDBPyConnection, model: ModelInfo, reference_id: int
) -> ReferenceInfo | None:
    """One reference of a model by id, or None."""
    row = one_row(
        con.execute(
            f"SELECT {_INFO_COLUMNS} FROM model_references WHERE model_id = ? AND id = ?",
            [model.id, int(reference_id)],
        )
    )
    return None if row is None else _info(model, row)


def check_features(model: ModelInfo, features: Sequence[str] | None) -> list[str]:
    """The requested features (all of the model's for None); unknown names are an error."""
    if features is None:
        return list(model.features)
    if isinstance(features, str):
        raise ValueError(f"features must be a list of names, got the string {features!r}")
    unknown = [f for f in features if f not in model.features]
    if unknown:
        raise ValueError(
            f"unknown feature(s) {', '.join(map(repr, unknown))} of model {model.name!r}: "
            f"use {', '.join(model.features) or '(the model has no features)'}"
        )
    return list(dict.fromkeys(features))


def reference_frame(
    con: duckdb.DuckDBPyConnection,
    model: ModelInfo,
    reference: ReferenceInfo,
    features: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A reference's rows as a drift frame (only `features` when given)."""
    if reference.model != model.name:
        raise ValueError(
            f"reference {reference.id} belongs to model {reference.model!r}, not {model.name!r}"
        )
    wanted = check_features(model, features)
    name = reference_table(reference.id)
    stored = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' "
            "AND table_name = ?",
            [name],
        ).fetchall()
    }
    if not stored:
        raise ValueError(f"reference {reference.id} of model {model.name!r} has no stored rows")
    # Features added to the model after the reference was made are not in its table.
    present = [f for f in wanted if model.column(f) in stored]
    table = con.sql(f"SELECT {select_sql(model, present)} FROM {quote(name)} p").to_arrow_table()
    return drift_frame(table, model, wanted)


def select_sql(model: ModelInfo, features: Sequence[str]) -> str:
    """SELECT items giving a drift frame's columns from a table aliased p."""
    items = [f"p.{quote(model.column(f))} AS {quote(f)}" for f in features]
    items += [
        f"p.prediction AS {quote(PREDICTION_COLUMN)}",
        f"{target_sql(model)} AS {quote(TARGET_COLUMN)}",
    ]
    return ", ".join(items)


def drift_frame(table: pa.Table, model: ModelInfo, features: Sequence[str]) -> pd.DataFrame:
    """An Arrow result as a drift frame; features it lacks become all-null columns.

    Numeric columns are float64 (null is NaN), text columns object dtype (null is None).
    """
    n = table.num_rows
    kinds = {f: model.features[f] for f in features}
    numeric = model.task == "regression"
    kinds |= {
        PREDICTION_COLUMN: "numeric" if numeric else "categorical",
        TARGET_COLUMN: "numeric" if numeric else "categorical",
    }
    columns: dict[str, pd.Series] = {}
    for name, kind in kinds.items():
        values: np.ndarray
        if name not in table.column_names:
            values = np.full(n, np.nan) if kind == "numeric" else np.full(n, None, dtype=object)
        elif kind == "numeric":
            values = np.asarray(table.column(name).cast(pa.float64()).to_numpy(), dtype=float)
        else:
            values = _texts(table.column(name))
        columns[name] = pd.Series(values, dtype=float if kind == "numeric" else object)
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


def _texts(column: pa.ChunkedArray) -> np.ndarray:
    """A text column as an object array with None for null."""
    if len(column) == 0:
        return np.empty(0, dtype=object)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = column.cast(pa.string())
    # Through a dictionary: one Python string per distinct value, not per row.
    encoded = pc.dictionary_encode(column).combine_chunks()
    values = np.asarray([*encoded.dictionary.to_pylist(), None], dtype=object)
    codes = encoded.indices.fill_null(len(encoded.dictionary))
    return np.asarray(values[codes.to_numpy(zero_copy_only=False)], dtype=object)
