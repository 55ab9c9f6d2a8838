"""Dashboard channels in DuckDB: stored as their table, never with a secret."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage import Store, Writer
from storage.alert_definitions import delete_channel, list_channels, save_channel

AT = datetime(2026, 11, 25, tzinfo=UTC)


def test_save_replace_list_and_delete(store: Store, writer: Writer) -> None:
    hook = {"type": "webhook", "url": "https://hooks.example.com/x", "secret_env": "HOOK"}
    writer.run(lambda con: save_channel(con, "team", hook, "ana", AT))
    writer.run(lambda con: save_channel(con, "team", {**hook, "timeout_s": 3}, "ana", AT))
    assert list_channels(store.cursor()) == {"team": {**hook, "timeout_s": 3}}
    assert writer.run(lambda con: delete_channel(con, "team")) is True
    assert writer.run(lambda con: delete_channel(con, "team")) is False
    assert list_channels(store.cursor()) == {}


@pytest.mark.parametrize("key", ["password", "secret"])
def test_a_plain_secret_is_never_stored(store: Store, writer: Writer, key: str) -> None:
    bad = {"type": "webhook", "url": "https://x.example.com", key: "hunter2"}
    with pytest.raises(ValueError, match=f"holds a plain {key}: store the name"):
        writer.run(lambda con: save_channel(con, "team", bad, None, AT))
    assert list_channels(store.cursor()) == {}
