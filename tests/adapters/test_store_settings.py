"""The store's optional SQLAlchemy recorder, and the settings bootstrap reads from the environment."""

from __future__ import annotations

import gc

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from ledger.adapters import store as store_module
from ledger.adapters.store import Store, StoreError
from ledger.domain.members import Member
from ledger.domain.regions import Region
from ledger.services.bootstrap import SettingError, bootstrap


def test_the_sqlalchemy_event_store_without_its_extra_is_refused_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(store_module, "find_spec", lambda name: None)
    with pytest.raises(StoreError) as refused:
        Store.parse(str(tmp_path / "ledger.db"), "sqlalchemy")
    assert str(refused.value) == ("LEDGER_EVENT_STORE=sqlalchemy needs the sqlalchemy-store extra: "
                                  "pip install 'yibao-ledger[sqlalchemy-store]'")
    assert Store.parse(str(tmp_path / "ledger.db"), "core").event_store == "core"


@pytest.mark.parametrize(("settings", "cache", "intervals"), [
    ({}, 10_000, {Member: 10, Region: 12}),
    ({"LEDGER_CACHE_SIZE": "10", "LEDGER_SNAPSHOT_MEMBER": "7"}, 10, {Member: 7, Region: 12}),
])
def test_cache_size_and_snapshot_intervals_come_from_the_environment_or_todays_defaults(
        monkeypatch, sqlite_store, settings, cache, intervals):
    for name in ("LEDGER_CACHE_SIZE", "LEDGER_SNAPSHOT_MEMBER", "LEDGER_SNAPSHOT_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    app = bootstrap(sqlite_store)
    try:
        assert (app.cache.sizes[Member], app.aggregates.intervals) == (cache, intervals)
    finally:
        app.close()


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_a_setting_that_is_not_a_positive_number_is_one_clear_line(monkeypatch, sqlite_store, value):
    monkeypatch.setenv("LEDGER_SNAPSHOT_REGION", value)
    with pytest.raises(SettingError) as refused:
        bootstrap(sqlite_store)
    assert str(refused.value) == f"LEDGER_SNAPSHOT_REGION must be a positive whole number, not {value!r}"


@pytest.mark.parametrize(("setting", "young"), [("", 50_000), ("700", 700)])
def test_the_collectors_young_threshold_comes_from_the_environment_or_the_default(
        monkeypatch, sqlite_store, setting, young):
    monkeypatch.setenv("LEDGER_GC_YOUNG", setting)
    before = gc.get_threshold()
    try:
        bootstrap(sqlite_store).close()
        assert gc.get_threshold() == (young, *before[1:])
    finally:
        gc.set_threshold(*before)


def test_a_young_threshold_that_is_not_a_positive_number_is_one_clear_line(monkeypatch, sqlite_store):
    monkeypatch.setenv("LEDGER_GC_YOUNG", "lots")
    with pytest.raises(SettingError) as refused:
        bootstrap(sqlite_store)
    assert str(refused.value) == "LEDGER_GC_YOUNG must be a positive whole number, not 'lots'"


def test_a_pooled_connection_the_server_dropped_is_replaced_before_use_and_a_busy_one_is_not_pinged(
        monkeypatch, postgres_store):
    engine = postgres_store.engine()
    pings = []
    real_ping = engine.dialect.do_ping

    def counted_ping(dbapi_connection):
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
    try:
        with engine.connect() as conn:
            dropped = conn.execute(text("select pg_backend_pid()")).scalar_one()
        with engine.connect() as conn:  # back in the pool a moment ago: handed out as it is
            assert conn.execute(text("select pg_backend_pid()")).scalar_one() == dropped
        assert len(pings) == 1  # the new connection's first checkout only
        with create_engine(postgres_store.sqlalchemy_url(), poolclass=NullPool).begin() as admin:
            admin.execute(text("select pg_terminate_backend(:pid)"), {"pid": dropped})
        monkeypatch.setattr(store_module, "IDLE_BEFORE_PING", 0.0)  # as if it had sat idle for a while
        with engine.connect() as conn:
            assert conn.execute(text("select pg_backend_pid()")).scalar_one() != dropped
    finally:
        engine.dispose()


def test_the_read_models_sqlite_connections_do_not_overwrite_freed_pages(tmp_path):
    """A rebuild drops its old tables: a build of SQLite that zeroes freed pages would write them all again."""
    engine = Store.parse(str(tmp_path / "ledger.db")).engine()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 2  # FAST
    engine.dispose()
