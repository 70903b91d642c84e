"""The analytics store (SQLite by default, any SQLAlchemy URL such as PostgreSQL when configured).

Effectively once: a batch is one transaction that inserts each event id into day15_processed_events
(primary key) and updates the aggregates only for ids that were new. Commit, then XACK: a crash
before the commit redoes the batch; a crash between commit and XACK redelivers ids the table already
holds, which change nothing.
"""
from __future__ import annotations

import json
import logging
import time
from bisect import bisect_left
from typing import NamedTuple
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from operator import itemgetter

import orjson

from sqlalchemy import (BigInteger, Boolean, Column, Float, MetaData, String, Table, Text, case, cast, create_engine, event, func,
                        inspect, literal_column, select)

from day15_METRICS_saas import DAY15_MOVEMENTS, day15_movement, day15_subscription_mrr

DAY15_LOG = logging.getLogger("day15.store")
DAY15_EPOCH = date(1970, 1, 1)
DAY15_LATENCY_SAMPLE = 2000  # the latest events: the percentiles and histogram describe now, not the whole history
DAY15_LATENCY_BUCKETS_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000)  # upper bounds; one open bucket above
DAY15_TREND_MRR_DAYS = 90  # a quarter of daily MRR: the growth curve an owner reviews
DAY15_TREND_WINDOW_SECONDS = 300  # "the last minutes" of throughput and queue depth
DAY15_TREND_BUCKET_SECONDS = 10  # 30 points: spikes stay visible, the chart stays readable
DAY15_METADATA = MetaData()
DAY15_SQLITE_BUSY_MS = 30_000  # how long a SQLite connection waits for another's write lock
DAY15_SCHEMA_LOCK = 1_500_515  # PostgreSQL advisory lock key: creating the tables, one process at a time
day15_processed = Table(
    "day15_processed_events", DAY15_METADATA,
    Column("event_id", String(255), primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("received_at_ms", BigInteger, nullable=False),
    Column("processed_at_ms", BigInteger, nullable=False, index=True),
    Column("raw", Text, nullable=False),  # kept so the aggregates can always be recomputed and reconciled
)
day15_subscriptions = Table(
    "day15_subscriptions", DAY15_METADATA,
    Column("subscription_id", String(255), primary_key=True),
    Column("customer_id", String(255), nullable=False, index=True),
    Column("status", String(32), nullable=False),
    Column("mrr_cents", BigInteger, nullable=False),
    Column("last_created", BigInteger, nullable=False),
    Column("last_event_id", String(255), nullable=False),
)
day15_customers = Table(
    "day15_customers", DAY15_METADATA,
    Column("customer_id", String(255), primary_key=True),
    Column("mrr_cents", BigInteger, nullable=False, default=0),
    Column("had_mrr", Boolean, nullable=False, default=False),
)
day15_movements = Table(  # a subscription moved to another customer is one event, two movements
    "day15_mrr_movements", DAY15_METADATA,
    Column("event_id", String(255), primary_key=True),
    Column("day", String(10), nullable=False, index=True),
    Column("customer_id", String(255), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("delta_cents", BigInteger, nullable=False),
)
DAY15_MOVEMENTS_KEY = [c.name for c in day15_movements.primary_key.columns]  # event_id, customer_id
day15_activity = Table(
    "day15_activity", DAY15_METADATA,
    Column("day", String(10), primary_key=True),
    Column("user_id", String(255), primary_key=True),
)
day15_signups = Table(
    "day15_signups", DAY15_METADATA,
    Column("user_id", String(255), primary_key=True),
    Column("customer_id", String(255), nullable=False),
    Column("created", BigInteger, nullable=False),
)


def day15_create_engine(url: str):
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record):  # several consumer processes write: WAL and a patient lock wait
            connection.isolation_level = None  # SQLAlchemy's pysqlite recipe: we issue BEGIN ourselves
            cursor = connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={DAY15_SQLITE_BUSY_MS}")
            _switch_to_wal(cursor)
            # FULL: the consumer XACKs right after the commit, and the XACK drops Redis's copy. WAL with NORMAL
            # syncs at checkpoints only, so a power cut lost acknowledged batches; FULL syncs the WAL at each
            # commit. Set per connection, here, rather than a sync before the XACK: SQLite has no sync of its own
            # short of a checkpoint, and the consumer stays store-agnostic (PostgreSQL commits are durable already).
            cursor.execute("PRAGMA synchronous=FULL")
            # Checkpoint every ~40 MB of WAL, not 4 MB: random event ids dirty the same index pages batch
            # after batch, and a rarer checkpoint copies each of them back once (commit cost -40%, measured).
            cursor.execute("PRAGMA wal_autocheckpoint=10000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn):  # take the write lock up front: a read-then-write upgrade can deadlock
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    _create_tables(engine)
    _migrate_movements_key(engine)
    return engine


def _switch_to_wal(cursor) -> None:
    """A database not yet in WAL mode (the rollback journal is SQLite's default) needs its exclusive lock to switch, and
    while another connection writes SQLite refuses that at once, 'database is locked', without the busy wait: processes
    opening such a store at the same moment crashed. So the switch is tried again until the busy timeout has passed."""
    import sqlite3

    deadline = time.monotonic() + DAY15_SQLITE_BUSY_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _create_tables(engine) -> None:
    """The webhook server and every consumer open the store at once. create_all looks for each table, then creates
    it: on PostgreSQL two processes could both find none and the second CREATE failed (a duplicate in pg_type), so
    the looks and the creates run under one lock there, taken in their transaction (DDL is transactional). SQLite's
    BEGIN IMMEDIATE already holds the write lock for the whole of it."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({DAY15_SCHEMA_LOCK})")
        DAY15_METADATA.create_all(conn)


def _movements_key(conn) -> list[str]:
    return inspect(conn).get_pk_constraint(day15_movements.name)["constrained_columns"]


def _has_movements_key(engine) -> bool:
    with engine.connect() as conn:
        return _movements_key(conn) == DAY15_MOVEMENTS_KEY


def _migrate_movements_key(engine) -> None:
    """Stores written before moves were handled key the movements by event_id alone. Several consumers start
    at once and each runs this: whoever gets the lock second finds the key already changed and does nothing."""
    if _has_movements_key(engine):
        return
    with engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE, the database's write lock, from the first statement
        table = day15_movements.name
        if engine.dialect.name != "sqlite":
            conn.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        old_key = _movements_key(conn)  # looked at again under the lock
        if old_key == DAY15_MOVEMENTS_KEY:
            return
        if engine.dialect.name == "sqlite":  # no ALTER for a primary key: rebuild the table, rows copied
            for index in day15_movements.indexes:
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
            # an owner's own indexes would go with the old table: created again on the new one (PostgreSQL keeps them)
            own_indexes = [row[0] for row in conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,))]
            conn.exec_driver_sql(f"ALTER TABLE {table} RENAME TO {table}_old")
            day15_movements.create(conn)
            columns = ", ".join(_columns(day15_movements))
            conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_old")
            conn.exec_driver_sql(f"DROP TABLE {table}_old")
            for create_index in own_indexes:
                conn.exec_driver_sql(create_index)
        else:
            name = conn.dialect.identifier_preparer.quote(inspect(conn).get_pk_constraint(table)["name"])
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {name}, "
                                 f"ADD PRIMARY KEY ({', '.join(DAY15_MOVEMENTS_KEY)})")
        DAY15_LOG.info("analytics store migrated", extra={"table": table, "old_key": ",".join(old_key),
                                                     "new_key": ",".join(DAY15_MOVEMENTS_KEY)})


class _DriverSql:
    """The consumer's write path as plain SQL, run by the driver's own executemany.

    Sampled under load, SQLAlchemy Core spent more time turning each row's parameters into bind values
    than the database spent storing the rows. So the schema and the reads stay in SQLAlchemy, and these
    statements are built from the same Table objects, in the driver's placeholder style, and take plain
    tuples in column order. Every statement here is valid on SQLite (3.24+) and PostgreSQL."""

    _MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}  # sqlite3 and pyodbc; psycopg, psycopg2 and PyMySQL

    def __init__(self, dialect):
        if dialect.paramstyle not in self._MARKS:
            raise ValueError(f"the analytics store needs a driver with ? or %s placeholders, not {dialect.paramstyle}")
        self.mark = self._MARKS[dialect.paramstyle]
        # SQLite has no row locks and holds the database's write lock from BEGIN IMMEDIATE instead.
        self.lock = "" if dialect.name == "sqlite" else " FOR UPDATE"

    def marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def insert(self, table: Table, ignore_existing: bool = False) -> str:
        columns = _columns(table)
        return (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({self.marks(len(columns))})"
                + (" ON CONFLICT DO NOTHING" if ignore_existing else ""))

    def update(self, table: Table) -> str:
        """UPDATE every column but the key; parameters: the other columns in order, then the key."""
        key, *others = _columns(table)
        return f"UPDATE {table.name} SET {', '.join(f'{c} = {self.mark}' for c in others)} WHERE {key} = {self.mark}"

    def select_keys(self, table: Table, count: int, locked: bool = False) -> str:
        key = table.primary_key.columns.values()[0].name
        columns = ", ".join(_columns(table)) if locked else key
        return f"SELECT {columns} FROM {table.name} WHERE {key} IN ({self.marks(count)})" + (self.lock if locked else "")


def _day(epoch_seconds: int) -> str:
    return _utc_date(epoch_seconds // 86_400)


@lru_cache(maxsize=4_096)
def _utc_date(epoch_day: int) -> str:  # a batch's events fall on a few days: format each day once
    return (DAY15_EPOCH + timedelta(days=epoch_day)).isoformat()


def _columns(table: Table) -> list[str]:
    return [c.name for c in table.columns]


def _as_rows(table: Table, records) -> list[tuple]:
    """Records (dicts by column name) as tuples in column order, for _DriverSql.insert."""
    return list(map(itemgetter(*_columns(table)), records))


def _key_last(table: Table, records) -> list[tuple]:
    """Records as tuples for _DriverSql.update: the other columns in order, then the key."""
    key, *others = _columns(table)
    return list(map(itemgetter(*others, key), records))


class _BatchState:
    """The subscriptions and customers a batch touches: read in two queries, changed in memory in event
    order, written back with one executemany per kind (instead of five statements per event).
    FOR UPDATE (PostgreSQL; SQLite holds the write lock from BEGIN IMMEDIATE) keeps a concurrent
    consumer from changing the same rows between this read and the write; a row that does not exist yet
    is guarded by its primary key (a concurrent insert fails the batch, which is then applied entry by entry)."""

    def __init__(self, subscriptions: dict[str, dict], customers: dict[str, dict]):
        self.subscriptions, self.customers = subscriptions, customers
        self.new_subscriptions: set[str] = set()
        self.new_customers: set[str] = set()
        self.changed_subscriptions: set[str] = set()
        self.changed_customers: set[str] = set()
        self.movements: list[dict] = []

    @classmethod
    def load(cls, conn, sql: _DriverSql, events: list[dict]) -> "_BatchState":
        sub_ids = sorted({e["data"]["object"]["id"] for e in events if e["type"] != "customer.created"})
        subscriptions = _locked_rows(conn, sql, day15_subscriptions, sub_ids)
        # and the customers the subscriptions belong to now: an event may move one away from its customer
        customer_ids = sorted({e["data"]["object"]["id"] if e["type"] == "customer.created" else e["data"]["object"]["customer"]
                               for e in events}.union(row["customer_id"] for row in subscriptions.values()))
        return cls(subscriptions, _locked_rows(conn, sql, day15_customers, customer_ids))

    def customer(self, customer_id: str) -> dict:
        row = self.customers.get(customer_id)
        if row is None:
            row = self.customers[customer_id] = {"customer_id": customer_id, "mrr_cents": 0, "had_mrr": False}
            self.new_customers.add(customer_id)
        return row

    def apply_subscription(self, evt: dict, obj: dict) -> None:
        current = self.subscriptions.get(obj["id"])
        if current and (current["last_created"], current["last_event_id"]) > (evt["created"], evt["id"]):
            return  # delivered out of order: a later state is already applied
        mrr = day15_subscription_mrr(obj)
        self.subscriptions[obj["id"]] = {"subscription_id": obj["id"], "customer_id": obj["customer"], "status": obj["status"],
                                         "mrr_cents": mrr, "last_created": evt["created"], "last_event_id": evt["id"]}
        (self.changed_subscriptions if current else self.new_subscriptions).add(obj["id"])
        if current and current["customer_id"] != obj["customer"]:  # moved: its MRR leaves the customer it had
            self._change(evt, current["customer_id"], -current["mrr_cents"])
            self._change(evt, obj["customer"], mrr)
        else:
            self._change(evt, obj["customer"], mrr - (current["mrr_cents"] if current else 0))

    def _change(self, evt: dict, customer_id: str, delta: int) -> None:
        customer = self.customer(customer_id)
        old_mrr = customer["mrr_cents"]
        kind = day15_movement(old_mrr, old_mrr + delta, customer["had_mrr"])
        if kind:
            self.movements.append({"event_id": evt["id"], "day": _day(evt["created"]), "customer_id": customer_id,
                                   "kind": kind, "delta_cents": delta})
        customer["mrr_cents"], customer["had_mrr"] = old_mrr + delta, bool(customer["had_mrr"]) or old_mrr + delta > 0
        if customer_id not in self.new_customers:
            self.changed_customers.add(customer_id)

    def write(self, conn, sql: _DriverSql) -> None:
        subs, customers = self.subscriptions, self.customers
        writes = (
            (sql.insert(day15_subscriptions), _as_rows(day15_subscriptions, (subs[i] for i in sorted(self.new_subscriptions)))),
            (sql.update(day15_subscriptions), _key_last(day15_subscriptions, (
                subs[i] for i in sorted(self.changed_subscriptions - self.new_subscriptions)))),
            (sql.insert(day15_customers), _as_rows(day15_customers, (customers[i] for i in sorted(self.new_customers)))),
            (sql.update(day15_customers), _key_last(day15_customers, (customers[i] for i in sorted(self.changed_customers)))),
            (sql.insert(day15_movements), _as_rows(day15_movements, self.movements)))
        for statement, rows in writes:
            if rows:
                conn.exec_driver_sql(statement, rows)  # a list of tuples runs as the driver's executemany


def _locked_rows(conn, sql: _DriverSql, table: Table, keys: list[str]) -> dict[str, dict]:
    if not keys:
        return {}
    columns = _columns(table)
    rows = conn.exec_driver_sql(sql.select_keys(table, len(keys), locked=True), tuple(keys))
    return {row[0]: dict(zip(columns, row)) for row in rows}


class day15_StoredEvent(NamedTuple):
    entry_id: str
    event: dict
    received_at_ms: int
    raw: str | None = None  # the body as it was queued; None: encoded from the event


class day15_Store:
    def __init__(self, engine):
        self.engine = engine
        self.sql = _DriverSql(engine.dialect)
        self._insert_processed = self.sql.insert(day15_processed)
        self._insert_activity = self.sql.insert(day15_activity, ignore_existing=True)
        self._insert_signup = self.sql.insert(day15_signups, ignore_existing=True)

    def apply_batch(self, batch: list[day15_StoredEvent], processed_at_ms: int, before_commit=None) -> int:
        """Apply a batch in one transaction; return how many events were new (the rest were repeats)."""
        with self.engine.begin() as conn:
            ids = [item.event["id"] for item in batch]
            done = {row[0] for row in conn.exec_driver_sql(self.sql.select_keys(day15_processed, len(ids)), tuple(ids))}
            fresh = []
            for item in batch:
                if item.event["id"] not in done:
                    done.add(item.event["id"])  # the same id twice in one batch counts once
                    fresh.append(item)
            if fresh:
                # A concurrent consumer committing the same id makes this fail as a whole; the caller then retries
                # entry by entry, and the SELECT above sees the other commit.
                conn.exec_driver_sql(self._insert_processed, [
                    (i.event["id"], i.event["type"], i.event["created"], i.received_at_ms, processed_at_ms,
                     i.raw if i.raw is not None else orjson.dumps(i.event).decode()) for i in fresh])
                self._apply_rows(conn, [i.event for i in fresh])
            if before_commit:
                before_commit()  # a test seam: crash here and nothing of the batch is kept
        return len(fresh)

    def _apply_rows(self, conn, events: list[dict]) -> None:
        activity = [(_day(e["created"]), e["data"]["object"]["user"]) for e in events if e["type"] == "user.activity"]
        signups = [(e["data"]["object"]["id"], e["data"]["object"]["customer"], e["created"])
                   for e in events if e["type"] == "user.signed_up"]
        for statement, rows in ((self._insert_activity, activity), (self._insert_signup, signups)):
            if rows:
                conn.exec_driver_sql(statement, rows)
        changes = [e for e in events if e["type"].startswith("customer.subscription.") or e["type"] == "customer.created"]
        if changes:
            state = _BatchState.load(conn, self.sql, changes)
            for evt in changes:  # state changes depend on the state before them: in batch order, in memory
                if evt["type"] == "customer.created":
                    state.customer(evt["data"]["object"]["id"])
                else:
                    state.apply_subscription(evt, evt["data"]["object"])
            state.write(conn, self.sql)

    # --- reading ------------------------------------------------------------------------------
    def summary(self, now: datetime | None = None, window_days: int = 30) -> dict:
        now = now or datetime.now(timezone.utc)
        since = (now - timedelta(days=window_days)).date().isoformat()
        with self.engine.connect() as conn:
            # sums as floats: SQLite's integer SUM raises on passing int64 (exact to 2^53 cents, $90 trillion)
            mrr = conn.execute(select(func.coalesce(func.sum(cast(day15_customers.c.mrr_cents, Float)), 0))).scalar_one()
            active = conn.execute(select(func.count()).where(day15_customers.c.mrr_cents > 0)).scalar_one()
            moves = dict(conn.execute(select(day15_movements.c.kind, func.sum(cast(day15_movements.c.delta_cents, Float)))
                                      .where(day15_movements.c.day >= since).group_by(day15_movements.c.kind)).all())
            churned, active_at_start = _churn_of_the_window(conn, since, active)
            latest_day = conn.execute(select(func.max(day15_activity.c.day))).scalar_one()
            dau = conn.execute(select(func.count()).where(day15_activity.c.day == latest_day)).scalar_one() if latest_day else 0
            mau = conn.execute(select(func.count(func.distinct(day15_activity.c.user_id)))
                               .where(day15_activity.c.day >= since)).scalar_one()
            processed = conn.execute(select(func.count()).select_from(day15_processed)).scalar_one()
            latencies = _recent_latencies(conn)
            recent = conn.execute(select(func.count()).where(
                day15_processed.c.processed_at_ms >= int(now.timestamp() * 1000) - 10_000)).scalar_one()
        return {
            "mrr_cents": int(mrr), "active_customers": int(active),
            "arpu_cents": int(mrr) // active if active else 0,
            "movements_cents": {kind: int(moves.get(kind, 0)) for kind in DAY15_MOVEMENTS},
            "net_new_mrr_cents": sum(int(v) for v in moves.values()), "logo_churn_pct": round(100 * churned / active_at_start, 2)
            if active_at_start else 0.0, "dau": int(dau), "mau": int(mau),
            "dau_mau_pct": round(100 * dau / mau, 1) if mau else 0.0, "processed": int(processed),
            "events_per_second": round(recent / 10, 1),
            "latency_ms": {"p50": day15_percentile(latencies, 50), "p99": day15_percentile(latencies, 99)},
            "window_days": window_days,
        }

    def trends(self, now: datetime | None = None, *, mrr_days: int = DAY15_TREND_MRR_DAYS,
               window_seconds: int = DAY15_TREND_WINDOW_SECONDS, bucket_seconds: int = DAY15_TREND_BUCKET_SECONDS) -> dict:
        """MRR by day, throughput and queue depth per bucket over the last minutes, the latency histogram."""
        now_ms = int((now or datetime.now(timezone.utc)).timestamp() * 1000)
        width = bucket_seconds * 1000
        last = now_ms // width
        first = last - window_seconds // bucket_seconds + 1
        start_ms = first * width
        p = day15_processed.c
        per = literal_column(str(int(width)))  # inline: PostgreSQL matches GROUP BY to SELECT only without parameters
        with self.engine.connect() as conn:
            by_day = conn.execute(select(day15_movements.c.day, func.sum(day15_movements.c.delta_cents))
                                  .group_by(day15_movements.c.day).order_by(day15_movements.c.day)).all()
            recent = p.processed_at_ms >= start_ms  # indexed: only the window's rows are read
            done = dict(conn.execute(select(p.processed_at_ms // per, func.count()).where(recent)
                                     .group_by(p.processed_at_ms // per)).all())
            arrived = dict(conn.execute(select(p.received_at_ms // per, func.count()).where(recent, p.received_at_ms >= start_ms)
                                        .group_by(p.received_at_ms // per)).all())
            waiting = conn.execute(select(func.count()).where(recent, p.received_at_ms < start_ms)).scalar_one()
            latencies = _recent_latencies(conn)
        return {"mrr_by_day": _mrr_by_day(by_day, mrr_days), "mrr_days": mrr_days,
                "throughput": _throughput(first, last, width, done, arrived, int(waiting)),
                "window_seconds": window_seconds, "bucket_seconds": bucket_seconds,
                "latency_histogram": _histogram(latencies), "latency_sample": len(latencies)}

    def raw_events(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [json.loads(r[0]) for r in conn.execute(select(day15_processed.c.raw))]

    def subscription_states(self) -> dict[str, tuple[str, int]]:
        with self.engine.connect() as conn:
            return {r.subscription_id: (r.status, r.mrr_cents) for r in conn.execute(select(day15_subscriptions))}


def _churn_of_the_window(conn, since: str, active_now: int) -> tuple[int, int]:
    """(customers active at the window's start who churned in it, customers active at its start), exactly.

    Movements add up to each customer's MRR, so a customer's MRR at the start is its MRR now less its movements in
    the window; a customer with none there was active at the start if it is now. Only the window's movements are
    read. (Active now + churned - gained was an estimate: a customer won and lost in the window, such as the new
    customer of a moved subscription, counted as active at the start, and churn could pass 100 %.)"""
    m = day15_movements.c
    in_window = (select(m.customer_id, func.sum(cast(m.delta_cents, Float)).label("delta"),
                        func.max(case((m.kind == "churn", 1), else_=0)).label("churned"))
                 .where(m.day >= since).group_by(m.customer_id).subquery())
    rows = conn.execute(select(in_window.c.delta, in_window.c.churned, func.coalesce(day15_customers.c.mrr_cents, 0))
                        .select_from(in_window.outerjoin(day15_customers,
                                                         day15_customers.c.customer_id == in_window.c.customer_id)))
    churned, active_at_start = 0, active_now
    for delta, did_churn, mrr_now in rows:
        active_at_start += (mrr_now - int(delta) > 0) - (mrr_now > 0)
        churned += bool(did_churn) and mrr_now - int(delta) > 0
    return churned, active_at_start


def _recent_latencies(conn) -> list[int]:
    return sorted(int(r[0]) for r in conn.execute(
        select(day15_processed.c.processed_at_ms - day15_processed.c.received_at_ms)
        .order_by(day15_processed.c.processed_at_ms.desc()).limit(DAY15_LATENCY_SAMPLE)))


def _mrr_by_day(deltas_by_day, days: int) -> list[dict]:
    """Movements add up to MRR, so MRR at the end of a day is the running sum; the last `days` of the data."""
    if not deltas_by_day:
        return []
    since = (date.fromisoformat(deltas_by_day[-1][0]) - timedelta(days=days - 1)).isoformat()
    series, running = [], 0
    for day, delta in deltas_by_day:
        running += int(delta)
        if day >= since:
            series.append({"day": day, "mrr_cents": running})
    return series


def _throughput(first: int, last: int, width: int, done: dict, arrived: dict, waiting: int) -> list[dict]:
    """Per bucket: events processed, and events received but not yet processed at the bucket's end.

    The queue depth is rebuilt from each stored event's received and processed times, so it is exact for
    every event that has been processed; events still in Redis now are not in the store (the live queue
    depth is on the pipeline card)."""
    points = []
    for bucket in range(first, last + 1):
        waiting += int(arrived.get(bucket, 0)) - int(done.get(bucket, 0))
        events = int(done.get(bucket, 0))
        points.append({"at_ms": bucket * width, "events": events, "events_per_second": round(events * 1000 / width, 2),
                       "queue_depth": waiting})
    return points


def _histogram(latencies: list[int]) -> list[dict]:
    counts = [0] * (len(DAY15_LATENCY_BUCKETS_MS) + 1)
    for value in latencies:
        counts[bisect_left(DAY15_LATENCY_BUCKETS_MS, value)] += 1
    return [{"le_ms": le, "events": n} for le, n in zip((*DAY15_LATENCY_BUCKETS_MS, None), counts)]


def day15_percentile(sorted_values: list[int], pct: int) -> int | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return int(sorted_values[index])
