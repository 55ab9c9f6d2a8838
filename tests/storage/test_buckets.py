"""Bucket starts by integer arithmetic equal DuckDB's time_bucket, before 1970 too."""

from __future__ import annotations

import duckdb
import pytest

from storage.queries import _BUCKET_US, BUCKETS, _bucket


@pytest.mark.parametrize("bucket", list(BUCKETS))
def test_bucket_starts_equal_time_bucket(bucket: str) -> None:
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT {_bucket(bucket)} = time_bucket(INTERVAL '{BUCKETS[bucket]}', p.ts), p.ts "
        "FROM (SELECT TIMESTAMPTZ '1960-02-29 23:59:59.999999+00' + "
        "to_microseconds((i * 7919 * 3600e6 / 7)::BIGINT) AS ts FROM range(2000) t(i)) p"
    ).fetchall()
    assert all(same for same, _ in rows), [ts for same, ts in rows if not same][:3]
    assert set(_BUCKET_US) == set(BUCKETS)


def test_an_unknown_bucket_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown time bucket '2h': use one of 1m, 5m"):
        _bucket("2h")
