"""The analytics store (SQLite by default, any SQLAlchemy URL such as PostgreSQL when configured).

Effectively once: a batch is one transaction that inserts each event id into day15_processed_events
(primary key) and updates the aggregates only for ids that were new. Commit, then XACK: a crash
before the commit redoes the batch; a crash between commit and XACK redelivers ids the table already
holds, which change nothing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import orjson

from sqlalchemy import (BigInteger, Boolean, Column, MetaData, String, Table, Text, bindparam, create_engine, event,
                        func, select, text)

from day15_METRICS_saas import DAY15_MOVEMENTS, day15_movement, day15_subscription_mrr

DAY15_METADATA = MetaData()
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
day15_movements = Table(
    "day15_mrr_movements", DAY15_METADATA,
    Column("event_id", String(255), primary_key=True),
    Column("day", String(10), nullable=False, index=True),
    Column("customer_id", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("delta_cents", BigInteger, nullable=False),
)
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
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn):  # take the write lock up front: a read-then-write upgrade can deadlock
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    DAY15_METADATA.create_all(engine)
    return engine


def _insert_ignore(table):
    """INSERT .. ON CONFLICT DO NOTHING as one prepared text statement: the same SQL on SQLite (3.24+) and
    PostgreSQL, and unlike the dialect constructs it has a cache key, so it is compiled once, not per row."""
    columns = [c.name for c in table.columns]
    statement = text(f"INSERT INTO {table.name} ({', '.join(columns)}) "
                     f"VALUES ({', '.join(':' + c for c in columns)}) ON CONFLICT DO NOTHING")
    return lambda conn, rows: conn.execute(statement, rows)  # a list of rows runs as executemany


# Built once with bind parameters, so a batch only binds values (no expression building).
_UPDATE_SUBSCRIPTION = day15_subscriptions.update().where(
    day15_subscriptions.c.subscription_id == bindparam("b_subscription")).values(
    {c: bindparam(f"b_{c}") for c in ("customer_id", "status", "mrr_cents", "last_created", "last_event_id")})
_UPDATE_CUSTOMER = day15_customers.update().where(day15_customers.c.customer_id == bindparam("b_customer")).values(
    mrr_cents=bindparam("b_mrr"), had_mrr=bindparam("b_had_mrr"))


def _day(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).date().isoformat()


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
    def load(cls, conn, events: list[dict]) -> "_BatchState":
        sub_ids = sorted({e["data"]["object"]["id"] for e in events if e["type"] != "customer.created"})
        customer_ids = sorted({e["data"]["object"]["id"] if e["type"] == "customer.created" else e["data"]["object"]["customer"]
                               for e in events})
        subscriptions = {row.subscription_id: dict(row._mapping) for row in conn.execute(
            select(day15_subscriptions).where(day15_subscriptions.c.subscription_id.in_(sub_ids)).with_for_update())} \
            if sub_ids else {}
        customers = {row.customer_id: dict(row._mapping) for row in conn.execute(
            select(day15_customers).where(day15_customers.c.customer_id.in_(customer_ids)).with_for_update())}
        return cls(subscriptions, customers)

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
        old_subscription_mrr = current["mrr_cents"] if current else 0
        self.subscriptions[obj["id"]] = {"subscription_id": obj["id"], "customer_id": obj["customer"], "status": obj["status"],
                                         "mrr_cents": mrr, "last_created": evt["created"], "last_event_id": evt["id"]}
        (self.changed_subscriptions if current else self.new_subscriptions).add(obj["id"])
        customer = self.customer(obj["customer"])
        old_customer_mrr = customer["mrr_cents"]
        new_customer_mrr = old_customer_mrr - old_subscription_mrr + mrr
        kind = day15_movement(old_customer_mrr, new_customer_mrr, customer["had_mrr"])
        if kind:
            self.movements.append({"event_id": evt["id"], "day": _day(evt["created"]), "customer_id": obj["customer"],
                                   "kind": kind, "delta_cents": new_customer_mrr - old_customer_mrr})
        customer["mrr_cents"], customer["had_mrr"] = new_customer_mrr, customer["had_mrr"] or new_customer_mrr > 0
        if obj["customer"] not in self.new_customers:
            self.changed_customers.add(obj["customer"])

    def write(self, conn) -> None:
        new_subs = [self.subscriptions[i] for i in sorted(self.new_subscriptions)]
        changed_subs = [{"b_subscription": i, **{f"b_{k}": v for k, v in self.subscriptions[i].items() if k != "subscription_id"}}
                        for i in sorted(self.changed_subscriptions - self.new_subscriptions)]
        new_customers = [self.customers[i] for i in sorted(self.new_customers)]
        changed_customers = [{"b_customer": i, "b_mrr": self.customers[i]["mrr_cents"], "b_had_mrr": self.customers[i]["had_mrr"]}
                             for i in sorted(self.changed_customers)]
        for statement, rows in ((day15_subscriptions.insert(), new_subs), (_UPDATE_SUBSCRIPTION, changed_subs),
                                (day15_customers.insert(), new_customers), (_UPDATE_CUSTOMER, changed_customers),
                                (day15_movements.insert(), self.movements)):
            if rows:
                conn.execute(statement, rows)  # a list of rows runs as executemany


@dataclass(frozen=True)
class day15_StoredEvent:
    entry_id: str
    event: dict
    received_at_ms: int


class day15_Store:
    def __init__(self, engine):
        self.engine = engine
        self._insert = {t.name: _insert_ignore(t) for t in (day15_activity, day15_signups)}

    def apply_batch(self, batch: list[day15_StoredEvent], processed_at_ms: int, before_commit=None) -> int:
        """Apply a batch in one transaction; return how many events were new (the rest were repeats)."""
        with self.engine.begin() as conn:
            ids = [item.event["id"] for item in batch]
            done = set(conn.execute(select(day15_processed.c.event_id).where(day15_processed.c.event_id.in_(ids))).scalars())
            fresh = []
            for item in batch:
                if item.event["id"] not in done:
                    done.add(item.event["id"])  # the same id twice in one batch counts once
                    fresh.append(item)
            if fresh:
                # A concurrent consumer committing the same id makes this fail as a whole; the caller then retries
                # entry by entry, and the SELECT above sees the other commit.
                conn.execute(day15_processed.insert(), [
                    {"event_id": i.event["id"], "event_type": i.event["type"], "created": i.event["created"],
                     "received_at_ms": i.received_at_ms, "processed_at_ms": processed_at_ms,
                     "raw": orjson.dumps(i.event, option=orjson.OPT_SORT_KEYS).decode()} for i in fresh])
                self._apply_rows(conn, [i.event for i in fresh])
            if before_commit:
                before_commit()  # a test seam: crash here and nothing of the batch is kept
        return len(fresh)

    def _apply_rows(self, conn, events: list[dict]) -> None:
        activity = [{"day": _day(e["created"]), "user_id": e["data"]["object"]["user"]}
                    for e in events if e["type"] == "user.activity"]
        signups = [{"user_id": e["data"]["object"]["id"], "customer_id": e["data"]["object"]["customer"],
                    "created": e["created"]} for e in events if e["type"] == "user.signed_up"]
        for table, rows in (("day15_activity", activity), ("day15_signups", signups)):
            if rows:
                self._insert[table](conn, rows)
        changes = [e for e in events if e["type"].startswith("customer.subscription.") or e["type"] == "customer.created"]
        if changes:
            state = _BatchState.load(conn, changes)
            for evt in changes:  # state changes depend on the state before them: in batch order, in memory
                if evt["type"] == "customer.created":
                    state.customer(evt["data"]["object"]["id"])
                else:
                    state.apply_subscription(evt, evt["data"]["object"])
            state.write(conn)


    # --- reading ------------------------------------------------------------------------------
    def summary(self, now: datetime | None = None, window_days: int = 30) -> dict:
        now = now or datetime.now(timezone.utc)
        since = (now - timedelta(days=window_days)).date().isoformat()
        with self.engine.connect() as conn:
            mrr = conn.execute(select(func.coalesce(func.sum(day15_customers.c.mrr_cents), 0))).scalar_one()
            active = conn.execute(select(func.count()).where(day15_customers.c.mrr_cents > 0)).scalar_one()
            moves = dict(conn.execute(select(day15_movements.c.kind, func.sum(day15_movements.c.delta_cents))
                                      .where(day15_movements.c.day >= since).group_by(day15_movements.c.kind)).all())
            churned = conn.execute(select(func.count(func.distinct(day15_movements.c.customer_id)))
                                   .where(day15_movements.c.kind == "churn", day15_movements.c.day >= since)).scalar_one()
            gained = conn.execute(select(func.count(func.distinct(day15_movements.c.customer_id))).where(
                day15_movements.c.kind.in_(("new", "reactivation")), day15_movements.c.day >= since)).scalar_one()
            latest_day = conn.execute(select(func.max(day15_activity.c.day))).scalar_one()
            dau = conn.execute(select(func.count()).where(day15_activity.c.day == latest_day)).scalar_one() if latest_day else 0
            mau = conn.execute(select(func.count(func.distinct(day15_activity.c.user_id)))
                               .where(day15_activity.c.day >= since)).scalar_one()
            processed = conn.execute(select(func.count()).select_from(day15_processed)).scalar_one()
            latencies = sorted(r[0] for r in conn.execute(
                select(day15_processed.c.processed_at_ms - day15_processed.c.received_at_ms)
                .order_by(day15_processed.c.processed_at_ms.desc()).limit(2000)))
            recent = conn.execute(select(func.count()).where(
                day15_processed.c.processed_at_ms >= int(now.timestamp() * 1000) - 10_000)).scalar_one()
        active_at_start = max(active + churned - gained, 0)
        return {
            "mrr_cents": int(mrr), "active_customers": int(active),
            "arpu_cents": int(mrr // active) if active else 0,
            "movements_cents": {kind: int(moves.get(kind, 0)) for kind in DAY15_MOVEMENTS},
            "net_new_mrr_cents": int(sum(moves.values())), "logo_churn_pct": round(100 * churned / active_at_start, 2)
            if active_at_start else 0.0, "dau": int(dau), "mau": int(mau),
            "dau_mau_pct": round(100 * dau / mau, 1) if mau else 0.0, "processed": int(processed),
            "events_per_second": round(recent / 10, 1),
            "latency_ms": {"p50": _percentile(latencies, 50), "p99": _percentile(latencies, 99)},
            "window_days": window_days,
        }

    def raw_events(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [json.loads(r[0]) for r in conn.execute(select(day15_processed.c.raw))]

    def subscription_states(self) -> dict[str, tuple[str, int]]:
        with self.engine.connect() as conn:
            return {r.subscription_id: (r.status, r.mrr_cents) for r in conn.execute(select(day15_subscriptions))}


def _percentile(sorted_values: list[int], pct: int) -> int | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return int(sorted_values[index])
