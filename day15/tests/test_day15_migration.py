"""Opening a store written before a move could record two movements for one event (day15_mrr_movements
keyed by event_id alone): the key becomes (event_id, customer_id), the rows stay, and several consumer
processes starting at once may all run the migration."""
from __future__ import annotations

import logging
import multiprocessing
import threading

import pytest
from sqlalchemy import BigInteger, Column, MetaData, String, Table, create_engine, insert, inspect, select

import day15_STORE_analytics
from day15_STORE_analytics import DAY15_METADATA, day15_create_engine, day15_movements, day15_Store, day15_StoredEvent

ROWS = [{"event_id": f"evt_{n}", "day": "2026-01-01", "customer_id": f"cus_{n}", "kind": "new", "delta_cents": 100 * n}
        for n in range(1, 4)]
NEW_KEY = ["event_id", "customer_id"]


def _old_store(url: str) -> None:
    """The schema as it was: every table as today but the movements, keyed by event_id alone; rows in it."""
    engine = create_engine(url)
    DAY15_METADATA.create_all(engine, tables=[t for t in DAY15_METADATA.sorted_tables if t is not day15_movements])
    old = Table("day15_mrr_movements", MetaData(), Column("event_id", String(255), primary_key=True),
                Column("day", String(10), nullable=False, index=True), Column("customer_id", String(255), nullable=False),
                Column("kind", String(16), nullable=False), Column("delta_cents", BigInteger, nullable=False))
    old.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(old), ROWS)
    assert inspect(engine).get_pk_constraint("day15_mrr_movements")["constrained_columns"] == ["event_id"]
    engine.dispose()


def _state(engine) -> tuple[list[str], list[dict], list[list[str]]]:
    view = inspect(engine)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(day15_movements).order_by(day15_movements.c.event_id))]
    return (view.get_pk_constraint("day15_mrr_movements")["constrained_columns"], rows,
            [i["column_names"] for i in view.get_indexes("day15_mrr_movements")])


@pytest.fixture(params=["sqlite", "postgresql"])
def old_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'analytics.sqlite'}"
        _old_store(url)
        yield url
        return
    url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    DAY15_METADATA.drop_all(engine)
    _old_store(url)
    yield url
    DAY15_METADATA.drop_all(engine)
    engine.dispose()


def test_opening_an_old_store_moves_the_movements_key_and_keeps_its_rows(old_url):
    engine = day15_create_engine(old_url)
    assert _state(engine) == (NEW_KEY, ROWS, [["day"]])
    again = day15_create_engine(old_url)  # idempotent: the next start finds the new key and leaves it
    assert _state(again) == (NEW_KEY, ROWS, [["day"]])
    move = [{"id": f"evt_m{n}", "type": "customer.subscription.updated", "created": 1_767_225_600 + n,
             "data": {"object": {"id": "sub_1", "customer": customer, "status": "active", "items": {"data": [
                 {"quantity": 1, "price": {"unit_amount": 4900, "currency": "usd",
                                           "recurring": {"interval": "month", "interval_count": 1}}}]}}}}
            for n, customer in enumerate(("cus_A", "cus_B"))]
    day15_Store(again).apply_batch([day15_StoredEvent(str(n), e, 1) for n, e in enumerate(move)], 2)
    assert [(r["event_id"], r["customer_id"]) for r in _state(again)[1] if r["event_id"] == "evt_m1"] == [
        ("evt_m1", "cus_A"), ("evt_m1", "cus_B")]
    engine.dispose()
    again.dispose()


def test_two_stores_that_both_saw_the_old_key_migrate_it_once(old_url, monkeypatch):
    """Two stores (threads, each with its own engine and connections) both see the old key before either
    takes the lock (a barrier holds each after its first look); the one that gets the lock second must find
    the work done, not fail or rebuild again."""
    migrations: list[logging.LogRecord] = []
    recorder = logging.Handler(logging.INFO)
    recorder.emit = migrations.append
    store_log = logging.getLogger("day15.store")
    store_log.addHandler(recorder)
    level = store_log.level
    store_log.setLevel(logging.INFO)
    barrier = threading.Barrier(2, timeout=30)
    first_look = day15_STORE_analytics._has_movements_key

    def look_then_wait(engine) -> bool:
        found = first_look(engine)
        barrier.wait()
        return found

    monkeypatch.setattr(day15_STORE_analytics, "_has_movements_key", look_then_wait)
    engines, errors = [], []

    def open_store() -> None:
        try:
            engines.append(day15_create_engine(old_url))
        except Exception as exc:  # the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
    finally:
        store_log.removeHandler(recorder)
        store_log.setLevel(level)
    assert errors == [] and len(engines) == 2
    assert [(r.getMessage(), r.old_key) for r in migrations] == [("analytics store migrated", "event_id")]
    for engine in engines:
        assert _state(engine) == (NEW_KEY, ROWS, [["day"]])
        engine.dispose()


def _open_when_all_are_ready(url: str, ready) -> None:
    ready.wait()
    day15_create_engine(url).dispose()


def _exit_codes_of_processes_opening_at_once(url: str, count: int) -> list[int | None]:
    fork = multiprocessing.get_context("fork")  # the test's imports as they are: no module search path to rebuild
    ready = fork.Barrier(count, timeout=30)
    processes = [fork.Process(target=_open_when_all_are_ready, args=(url, ready)) for _ in range(count)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=90)
    return [process.exitcode for process in processes]


def test_consumer_processes_starting_at_once_on_an_old_store_all_start(old_url):
    assert _exit_codes_of_processes_opening_at_once(old_url, 3) == [0, 0, 0]
    engine = create_engine(old_url)
    assert _state(engine) == (NEW_KEY, ROWS, [["day"]])
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'analytics.sqlite'}"
        return
    url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    DAY15_METADATA.drop_all(engine)
    yield url
    DAY15_METADATA.drop_all(engine)
    engine.dispose()


def test_processes_starting_at_once_on_an_empty_database_all_start(empty_url):
    """The pipeline's first start: the webhook server and every consumer open the store at the same moment. On
    PostgreSQL, each looked for the tables, found none, and all but one CREATE TABLE failed (a duplicate key in
    pg_type): those processes crashed at start-up."""
    for _ in range(3):  # the race is narrow: a few rounds, each on an empty database
        engine = create_engine(empty_url)
        DAY15_METADATA.drop_all(engine)
        engine.dispose()
        assert _exit_codes_of_processes_opening_at_once(empty_url, 4) == [0, 0, 0, 0]
    engine = create_engine(empty_url)
    assert _state(engine) == (NEW_KEY, [], [["day"]])
    engine.dispose()


def test_an_index_of_the_owners_own_on_the_movements_survives_the_migration(old_url):
    """An index someone added for their own reports (PostgreSQL keeps it through the key swap): the SQLite rebuild
    renamed the table, so the index went with the old one and was dropped with it, silently."""
    engine = create_engine(old_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_owner_reporting ON day15_mrr_movements (customer_id, day)")
    engine.dispose()
    engine = day15_create_engine(old_url)
    key, rows, indexes = _state(engine)
    assert (key, rows, sorted(indexes)) == (NEW_KEY, ROWS, [["customer_id", "day"], ["day"]])
    engine.dispose()


def test_a_store_not_yet_in_wal_mode_opens_while_another_process_writes_to_it(tmp_path):
    """Switching a database to WAL takes its exclusive lock; SQLite answers 'database is locked' at once, without the
    busy wait, while another connection holds the write lock (here for a second). Several processes opening such a
    store at once (a store written before, by another tool, or an old one) crashed all but one at start-up."""
    import sqlite3
    import time

    path = tmp_path / "analytics.sqlite"
    _old_store(f"sqlite:///{path}")  # the rollback journal, SQLite's default
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO day15_activity VALUES ('2026-01-01', 'usr_1')")
    release = threading.Timer(1.0, lambda: writer.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    try:
        engine = day15_create_engine(f"sqlite:///{path}")
    finally:
        release.join()
        writer.close()
    assert time.monotonic() - started >= 0.9  # it waited for the writer
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert _state(engine) == (NEW_KEY, ROWS, [["day"]])
    engine.dispose()
