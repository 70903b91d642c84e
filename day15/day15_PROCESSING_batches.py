"""The consumer loop: read micro-batches from the group, apply them effectively once, acknowledge.

Order of work, and why:
  1. on start, this consumer's own pending entries (it died mid-batch last time);
  2. every half claim interval, XAUTOCLAIM entries idle longer than DAY15_CLAIM_IDLE_MS, from dead
     consumers or from failed attempts (this is both the janitor and the retry);
  3. new entries: a batch closes at DAY15_BATCH_SIZE or DAY15_BATCH_MAX_WAIT_MS after its first
     entry arrived, whichever comes first. After a full batch (a backlog), the next one is read ahead:
     Redis runs the read on its core while this process applies the batch in hand on the other.
     A stop request finishes both; a failure leaves the one read ahead pending, like the one in hand.
Each entry's attempt is counted in Redis *before* it is processed, so an entry that crashes the
process is counted too; past DAY15_MAX_RETRIES it goes to the dead-letter stream with its error.
Whatever one entry holds, any exception while parsing or applying it is that entry's alone: the rest
of the batch is applied, and an entry that fails for its content (not a passing database error) is
dead-lettered at once. Entries from an older ingress are validated again, so they are held to today's rules.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, NamedTuple

import orjson

from day15_BUFFER_streams import day15_Buffer, day15_Entry, day15_ReadAhead, day15_now_ms
from day15_EVENTS_validation import day15_validate_event
from day15_STORE_analytics import day15_Store, day15_StoredEvent, day15_percentile

DAY15_LOG = logging.getLogger("day15.consumer")
DAY15_IDLE_BLOCK_MS = 1_000  # an idle consumer re-checks stop requests and the janitor this often
DAY15_BACKOFF_SECONDS = (0.2, 5.0)  # first and longest wait between reconnection attempts while Redis is down
DAY15_OUTAGE_REPLIES = ("NOGROUP", "LOADING", "MASTERDOWN", "TRYAGAIN", "READONLY")  # Redis is (re)starting or failing over


@dataclass(frozen=True)
class day15_ConsumerHooks:
    """Seams for fault-injection tests: called inside the transaction before commit, and after commit."""

    before_commit: Callable[[], None] | None = None
    after_commit: Callable[[], None] | None = None


class day15_Consumer:
    def __init__(self, buffer: day15_Buffer, store: day15_Store, *, name: str, batch_size: int, max_wait_ms: int,
                 max_retries: int, claim_idle_ms: int, queue_depth_warn: int = 10_000,
                 hooks: day15_ConsumerHooks = day15_ConsumerHooks()):
        self.buffer, self.store, self.name, self.hooks = buffer, store, name, hooks
        self.batch_size, self.max_wait_ms, self.max_retries = batch_size, max_wait_ms, max_retries
        self.claim_idle_ms, self.queue_depth_warn = claim_idle_ms, queue_depth_warn
        self.acknowledged = 0  # entries done with: committed or dead-lettered, then acked
        self.outage_since: float | None = None  # monotonic time a Redis outage began, while it lasts
        self.outage_attempts, self.backoff = 0, DAY15_BACKOFF_SECONDS[0]

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Consume until should_stop(). A Redis outage is waited out, however long: back off, reconnect,
        then start again from this consumer's own pending entries (a batch whose acknowledgement the
        outage cut off is redelivered, and the store counts it once). Anything else still raises."""
        while not should_stop():
            try:
                self._consume(should_stop)
            except Exception as exc:
                if not _redis_outage(exc):
                    raise
                self._wait_out(exc, should_stop)
            else:
                break
        DAY15_LOG.info("consumer stopped cleanly", extra={"consumer": self.name, "acknowledged": self.acknowledged})

    def _wait_out(self, exc: Exception, should_stop: Callable[[], bool]) -> None:
        now = time.monotonic()
        if self.outage_since is None:
            self.outage_since, self.outage_attempts, self.backoff = now, 0, DAY15_BACKOFF_SECONDS[0]
        self.outage_attempts += 1
        if self.outage_attempts == 1 or self.outage_attempts % 10 == 0:
            DAY15_LOG.error("Redis unreachable; backing off and reconnecting until it is back", extra={
                "consumer": self.name, "outage_seconds": round(now - self.outage_since, 1),
                "attempts": self.outage_attempts, "next_try_in_s": self.backoff, "error": _describe(exc)})
        deadline = now + self.backoff
        while time.monotonic() < deadline and not should_stop():
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        self.backoff = min(self.backoff * 2, DAY15_BACKOFF_SECONDS[1])

    def _connected(self) -> None:
        if self.outage_since is not None:
            DAY15_LOG.warning("Redis reachable again; resuming", extra={
                "consumer": self.name, "outage_seconds": round(time.monotonic() - self.outage_since, 1)})
            self.outage_since = None

    def _consume(self, should_stop: Callable[[], bool]) -> None:
        self.buffer.ensure_group()  # again after an outage: a Redis that lost its data lost the group too
        self._connected()
        while not should_stop() and (own := self.buffer.read_own_pending(self.name, self.batch_size)):
            self.process(own, source="own-pending")
        last_claim, ahead = 0.0, None
        try:
            while not should_stop():
                if time.monotonic() - last_claim >= self.claim_idle_ms / 2000:
                    last_claim = time.monotonic()
                    claimed = self.buffer.claim_idle(self.name, self.claim_idle_ms, self.batch_size)
                    if claimed:
                        self.process(claimed, source="claimed")
                batch, ahead = self.collect_batch(should_stop, ahead), None
                if len(batch) >= self.batch_size:  # a backlog: Redis reads the next batch while this one is applied
                    ahead = self.buffer.read_ahead(self.name, self.batch_size)
                if batch:
                    self.process(batch, source="new")
            if ahead is not None:  # already delivered to this consumer: finishing it too leaves nothing pending at exit
                ahead, batch = None, ahead.entries()
                if batch:
                    self.process(batch, source="new")
        finally:
            if ahead is not None:  # the loop failed: its entries stay pending for the restart or the janitor
                ahead.discard()

    def collect_batch(self, should_stop: Callable[[], bool], ahead: day15_ReadAhead | None = None) -> list[day15_Entry]:
        """A batch closes at batch_size, or max_wait_ms after its first entry arrived, whichever comes first."""
        entries = ahead.entries() if ahead is not None else []
        if not entries:
            entries = self.buffer.read_new(self.name, self.batch_size, block_ms=DAY15_IDLE_BLOCK_MS)
        deadline = time.monotonic() + self.max_wait_ms / 1000
        while entries and len(entries) < self.batch_size and not should_stop():
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                break
            entries += self.buffer.read_new(self.name, self.batch_size - len(entries),
                                            block_ms=min(remaining_ms, DAY15_IDLE_BLOCK_MS))  # within the read timeout
        return entries

    def process(self, entries: list[day15_Entry], source: str) -> None:
        started = time.monotonic()
        first_delivery = source == "new"
        attempts = self.buffer.record_attempts([entry.entry_id for entry in entries], first_delivery=first_delivery)
        parsed, failures = [], {}
        for entry in entries:
            if attempts[entry.entry_id] > self.max_retries:
                failures[entry.entry_id] = _Failure(f"delivered {attempts[entry.entry_id]} times without being processed")
                continue
            try:
                parsed.append(_stored(entry))
            except Exception as exc:  # noqa: BLE001 - whatever an entry holds, it fails alone
                failures[entry.entry_id] = _Failure(_describe(exc))
        new = self._apply(parsed, failures, first_delivery)
        dead = self._handle_failures(attempts, failures)
        now = day15_now_ms()
        latencies = sorted(now - item.received_at_ms for item in parsed if item.entry_id not in failures)
        self.acknowledged += len(entries) - (len(failures) - dead)
        depth = self.buffer.depth()
        fields = {"consumer": self.name, "source": source, "size": len(entries), "new": new,
                  "repeats": len(parsed) - new - sum(1 for p in parsed if p.entry_id in failures),
                  "failed": len(failures) - dead, "dead_lettered": dead,
                  "duration_ms": round((time.monotonic() - started) * 1000, 1),
                  "latency_p50_ms": day15_percentile(latencies, 50), "latency_p99_ms": day15_percentile(latencies, 99),
                  "lag": depth["lag"], "pending": depth["pending"]}
        DAY15_LOG.info("batch committed", extra=fields)
        if depth["lag"] + depth["pending"] > self.queue_depth_warn:
            DAY15_LOG.warning("queue depth above threshold", extra={**depth, "threshold": self.queue_depth_warn})

    def _apply(self, parsed: list[day15_StoredEvent], failures: dict[str, "_Failure"], first_delivery: bool) -> int:
        """One transaction for the batch; if it fails, for any reason, entry by entry, so one bad event
        cannot block the rest. A database error may be passing (a lock, a failover): the entry is retried.
        Any other exception is the event's own doing and would recur: it is dead-lettered at once."""
        from sqlalchemy.exc import SQLAlchemyError

        if not parsed:
            return 0
        try:
            new = self.store.apply_batch(parsed, day15_now_ms(), before_commit=self.hooks.before_commit)
            committed = parsed
        except Exception as exc:  # noqa: BLE001 - the batch is retried entry by entry below
            DAY15_LOG.warning("batch transaction failed; applying one by one", extra={"error": _describe(exc)})
            new, committed = 0, []
            for item in parsed:
                try:
                    new += self.store.apply_batch([item], day15_now_ms())
                    committed.append(item)
                except SQLAlchemyError as single:
                    failures[item.entry_id] = _Failure(f"store: {str(single)[:300]}", permanent=False)
                except Exception as single:  # noqa: BLE001 - this event alone cannot be applied
                    failures[item.entry_id] = _Failure(_describe(single))
        if self.hooks.after_commit:
            self.hooks.after_commit()  # a test seam: crash after commit, before the acknowledgement
        self.buffer.ack([item.entry_id for item in committed], first_delivery=first_delivery)
        return new

    def _handle_failures(self, attempts: dict[str, int], failures: dict[str, "_Failure"]) -> int:
        dead = 0
        for entry_id, failure in failures.items():
            if failure.permanent or attempts[entry_id] >= self.max_retries:
                self.buffer.dead_letter(entry_id, failure.error)
                DAY15_LOG.error("entry dead-lettered", extra={"entry": entry_id, "attempts": attempts[entry_id],
                                                              "error": failure.error[:300]})
                dead += 1
            else:
                DAY15_LOG.warning("entry failed; left pending for a retry", extra={
                    "entry": entry_id, "attempt": attempts[entry_id], "of": self.max_retries, "error": failure.error[:300]})
        return dead


class _Failure(NamedTuple):
    """Why an entry was not applied; permanent: retrying cannot help (bad content), so park it now."""

    error: str
    permanent: bool = True


def _redis_outage(exc: Exception) -> bool:
    """Redis is unreachable, or restarting, or failing over: wait it out. Other errors are bugs or bad data."""
    import redis

    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return True
    return isinstance(exc, redis.ResponseError) and str(exc).startswith(DAY15_OUTAGE_REPLIES)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _stored(entry: day15_Entry) -> day15_StoredEvent:
    """A stream entry parsed and validated; ValueError or day15_InvalidEvent names what is wrong with it."""
    if entry.body is None or entry.received_at_ms is None:
        raise ValueError("the stream entry has no body or no numeric received_at_ms field")
    event = day15_validate_event(orjson.loads(entry.body))
    return day15_StoredEvent(entry.entry_id, event, int(entry.received_at_ms), entry.body.decode())
