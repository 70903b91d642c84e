"""The Redis Streams buffer: Redis holds events in flight, never the analytics (that is the store's job).

Ingress runs one Lua script per request, so "mark the id seen" and "XADD the event" happen together or
not at all: an event is never marked seen without being queued, which would make the sender's retry
look like a duplicate and lose the event. MAXLEN is approximate (~) and set far above any backlog
(DAY15_STREAM_MAXLEN), so trimming only ever drops entries that were acknowledged long ago.
The consumer's side has scripts too: one reads a batch as two strings (read_new says why), one
acknowledges a batch whose ids come as one string, one parks an entry in the dead-letter stream and
acknowledges it in one step.
"""
from __future__ import annotations

import time
import uuid
from typing import NamedTuple

import orjson

DAY15_STREAM = "day15:events"
DAY15_GROUP = "day15-analytics"
DAY15_DEAD_LETTER = "day15:dead-letter"
DAY15_SEEN_PREFIX = "day15:seen:"  # also spelled out in the Lua script
DAY15_COUNTERS = "day15:counters"
DAY15_ATTEMPTS = "day15:attempts"
DAY15_ENQUEUE_SCRIPT = """
-- KEYS: stream, counters, this request's key. ARGV: ttl, maxlen, received_at_ms, n_ignored, lengths, packed.
-- packed holds each event's id then its body, back to back; lengths holds "id_length body_length"
-- for each event, in order. One call per request: each event is marked seen and added together, or
-- found to be a duplicate. The request key makes a repeat of this very call (redis-py retrying after
-- a timeout, when the first call did run) return the first call's answer and change nothing.
local prior = redis.call('GET', KEYS[3])
if prior then return prior end
local results, queued, packed, at = {}, 0, ARGV[6], 1
for id_length, body_length in string.gmatch(ARGV[5], '(%d+) (%d+)') do
  local body_at = at + tonumber(id_length)
  local id, body = string.sub(packed, at, body_at - 1), string.sub(packed, body_at, body_at + tonumber(body_length) - 1)
  at = body_at + tonumber(body_length)
  if redis.call('SET', 'day15:seen:' .. id, '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'event_id', id, 'body', body, 'received_at_ms', ARGV[3])
    results[#results + 1] = '1'
    queued = queued + 1
  else
    results[#results + 1] = '0'
  end
end
redis.call('HINCRBY', KEYS[2], 'received', 1)  -- requests; queued, duplicates and ignored count events
if queued > 0 then redis.call('HINCRBY', KEYS[2], 'queued', queued) end
if #results > queued then redis.call('HINCRBY', KEYS[2], 'duplicates', #results - queued) end
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', KEYS[2], 'ignored', ARGV[4]) end
local flags = table.concat(results)  -- one string of 1/0 flags: cheaper to parse than an array
redis.call('SET', KEYS[3], flags, 'EX', 60)  -- redis-py retries within a second or two
return flags
"""
DAY15_PROBE_TIMEOUT_SECONDS = 0.2  # /health's own Redis round trips: a PING slower than this is not healthy
DAY15_REQUEST_PREFIX = "day15:request:"  # one short-lived key per ingress request (the enqueue script's KEYS[3])
DAY15_REDIS_TIMEOUTS = {  # role -> connect and read timeouts (s), retries of a failed command, health-check PING interval (s)
    # a sender waits on the webhook: one retry and no extra health-check PING (which redis-py retries on
    # its own), so a frozen Redis costs at most two 0.3 s reads before the 503
    "webhook": (0.25, 0.3, 1, 0),
    # a consumer waits for nobody; its longest command is an XREADGROUP BLOCK of at most 1 s
    "consumer": (1.0, 3.0, 1, 30),
}
DAY15_READ_CHUNK = 1_000  # entries per read-script run: Redis runs nothing else meanwhile (10–15 µs per entry)
DAY15_READ_SCRIPT = """
-- KEYS: stream. ARGV: group, consumer, count. XREADGROUP '>' as the consumer would, without BLOCK
-- (scripts cannot block). The batch comes back as two strings: "entry_id received_at_ms body_length"
-- for each entry, then the bodies back to back ('-' marks a missing field, or a receipt time that is no number).
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if not reply or not reply[1] then return false end  -- nil from Redis, an empty list from fakeredis
local entries = type(reply[1]) == 'table' and reply[1][2] or reply[2]  -- fakeredis drops the outer list
if not entries or #entries == 0 then return false end
local head, bodies = {}, {}
for i, entry in ipairs(entries) do
  local fields, body, received = entry[2] or {}, nil, '-'
  for j = 1, #fields, 2 do
    if fields[j] == 'body' then body = fields[j + 1]
    elseif fields[j] == 'received_at_ms' and string.match(fields[j + 1], '^%d+$') then received = fields[j + 1] end
  end
  head[i] = entry[1] .. ' ' .. received .. ' ' .. (body and #body or '-')
  bodies[i] = body or ''
end
return {table.concat(head, ' '), table.concat(bodies)}
"""
DAY15_ACK_SCRIPT = """
-- KEYS: stream, attempts. ARGV: group, entry ids separated by spaces, '1' to drop their attempt counters.
-- XACK (and HDEL) in steps of 1,000 ids: unpack() has a limit far below the largest batch.
local ids, acked = {}, 0
local function flush()
  if #ids == 0 then return end
  acked = acked + redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
  if ARGV[3] == '1' then redis.call('HDEL', KEYS[2], unpack(ids)) end
  ids = {}
end
for id in string.gmatch(ARGV[2], '%S+') do
  ids[#ids + 1] = id
  if #ids == 1000 then flush() end
end
flush()
return acked
"""
DAY15_DEAD_LETTER_SCRIPT = """
-- KEYS: stream, dead-letter stream, attempts, counters. ARGV: group, entry id, error, now ms.
-- The entry is copied with all its fields from the stream itself (still there: it is pending), parked
-- with its error and acknowledged in one step, so it is never both lost and acknowledged.
local found = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])[1]
local fields = found and found[2] or {}
fields[#fields + 1] = 'error'; fields[#fields + 1] = ARGV[3]
fields[#fields + 1] = 'source_entry'; fields[#fields + 1] = ARGV[2]
fields[#fields + 1] = 'dead_lettered_at_ms'; fields[#fields + 1] = ARGV[4]
redis.call('XADD', KEYS[2], '*', unpack(fields))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
return redis.call('HINCRBY', KEYS[4], 'dead_lettered', 1)
"""


class day15_Entry(NamedTuple):
    """A stream entry as the consumer needs it: the queued body and its receipt time (None: field missing)."""

    entry_id: str
    body: bytes | None
    received_at_ms: str | None


def day15_now_ms() -> int:
    return int(time.time() * 1000)


def day15_redis_client(settings, host: str | None = None, port: int | None = None, role: str = "consumer"):
    """A real redis-py client; the embedded mode points it at the in-process fakeredis TCP server.
    Timeouts are short and retries few (DAY15_REDIS_TIMEOUTS): an outage must show as an error at once,
    for the webhook to answer 503 and the consumer to back off, never as a request hanging for seconds."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    connect, read, retries, health_check = DAY15_REDIS_TIMEOUTS[role]
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    return redis.Redis(host=host or settings.redis_host, port=port or settings.redis_port, db=settings.redis_db,
                       password=password, socket_timeout=read, socket_connect_timeout=connect, health_check_interval=health_check,
                       retry=Retry(NoBackoff(), retries))


def day15_probe_client(client, timeout: float = DAY15_PROBE_TIMEOUT_SECONDS):
    """A client on the same Redis for health probes: one short try, no retry, so /health answers within a
    fraction of a second whatever Redis does. A client that is no TCP connection (fakeredis in-process
    in tests) is returned as it is."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    pool = client.connection_pool
    kwargs = dict(pool.connection_kwargs)
    if type(client) is not redis.Redis or "host" not in kwargs:
        return client
    kwargs.update(socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0), health_check_interval=0)
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


class day15_Buffer:
    def __init__(self, client, *, maxlen: int = 1_000_000, seen_ttl_seconds: int = 72 * 3600):
        self.redis, self.maxlen, self.seen_ttl = client, maxlen, seen_ttl_seconds
        self._enqueue = client.register_script(DAY15_ENQUEUE_SCRIPT)
        self._read = client.register_script(DAY15_READ_SCRIPT)
        self._ack = client.register_script(DAY15_ACK_SCRIPT)
        self._dead_letter = client.register_script(DAY15_DEAD_LETTER_SCRIPT)

    # --- ingress ------------------------------------------------------------------------------
    def enqueue(self, events: list[tuple[str, bytes | str]], received_at_ms: int, ignored: int = 0,
                request_id: str | None = None) -> list[bool]:
        """(event id, JSON body) pairs -> True if queued, False if a duplicate within the TTL; one round trip.

        request_id names this request (a fresh one if None): the same call sent again, as redis-py does
        after a timeout, gets the first call's answer, so a first delivery never comes back as a duplicate
        and no counter counts it twice.
        The events travel as two strings, their lengths and their bytes back to back: redis-py packs each
        command argument in pure Python, and two per event cost more than the script's own work."""
        if not events and not ignored:
            return []
        lengths, packed = _packed(events)
        request_key = DAY15_REQUEST_PREFIX + (request_id or uuid.uuid4().hex)
        flags = self._enqueue(keys=[DAY15_STREAM, DAY15_COUNTERS, request_key],
                              args=[self.seen_ttl, self.maxlen, received_at_ms, ignored, lengths, packed])
        return [flag == "1" for flag in (flags.decode() if isinstance(flags, bytes) else flags)]

    def count(self, field: str, amount: int = 1) -> None:
        self.redis.hincrby(DAY15_COUNTERS, field, amount)

    def count_rejected(self) -> None:
        """A refused request: received and rejected, both counting requests, in one round trip."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hincrby(DAY15_COUNTERS, "received", 1)
        pipe.hincrby(DAY15_COUNTERS, "rejected", 1)
        pipe.execute()

    def counters(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.redis.hgetall(DAY15_COUNTERS).items()}

    # --- consumer group -----------------------------------------------------------------------
    def ensure_group(self) -> None:
        import redis

        try:
            self.redis.xgroup_create(DAY15_STREAM, DAY15_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read_new(self, consumer: str, count: int, block_ms: int) -> list[day15_Entry]:
        """Up to `count` new entries. What is already waiting comes through the read script: redis-py parses
        replies element by element in pure Python (an XREADGROUP entry is nine elements; the script's whole
        batch is two strings), which made reading the consumer's largest cost. The price is paid in Redis:
        about 4x the server CPU of a plain XREADGROUP per entry read (see the README's benchmark section).
        Only when nothing is waiting does a plain XREADGROUP block, as scripts cannot."""
        packed = self._read(keys=[DAY15_STREAM], args=[DAY15_GROUP, consumer, min(count, DAY15_READ_CHUNK)])
        if packed:
            return _unpacked(*packed)
        if block_ms <= 0:
            return []
        # COUNT always goes with BLOCK: fakeredis (and clarity) want a bounded read
        reply = self.redis.xreadgroup(DAY15_GROUP, consumer, {DAY15_STREAM: ">"}, count=count, block=block_ms)
        return _from_reply(reply)

    def read_ahead(self, consumer: str, count: int) -> "day15_ReadAhead":
        """Send the read script for the next batch and return at once; the answer waits in
        day15_ReadAhead.entries(). While a backlog lasts, Redis reads the next batch on its core while this
        consumer applies the current one on the other, instead of each waiting for the other in turn."""
        return day15_ReadAhead(self, consumer, min(count, DAY15_READ_CHUNK))

    def read_own_pending(self, consumer: str, count: int) -> list[day15_Entry]:
        """Entries delivered to this consumer name and never acknowledged (it crashed mid-batch)."""
        return _from_reply(self.redis.xreadgroup(DAY15_GROUP, consumer, {DAY15_STREAM: "0"}, count=count))

    def claim_idle(self, consumer: str, min_idle_ms: int, count: int) -> list[day15_Entry]:
        """XAUTOCLAIM: take over entries pending longer than min_idle_ms (a dead consumer's, or a failed try)."""
        _, claimed, *_ = self.redis.xautoclaim(DAY15_STREAM, DAY15_GROUP, consumer, min_idle_ms, "0-0", count=count)
        return _as_entries(claimed)

    def ack(self, entry_ids: list[str], *, first_delivery: bool = False) -> None:
        """XACK; re-delivered entries also drop their attempt counter (first deliveries never had one).
        The ids travel as one string: redis-py packs every command argument in pure Python."""
        if entry_ids:
            self._ack(keys=[DAY15_STREAM, DAY15_ATTEMPTS], args=[DAY15_GROUP, " ".join(entry_ids), "0" if first_delivery else "1"])

    def record_attempts(self, entry_ids: list[str], *, first_delivery: bool) -> dict[str, int]:
        """The attempt number of each entry, counted in Redis before processing, so a crash loop is counted too.

        Every entry is first delivered by XREADGROUP ">", so only re-deliveries (own pending after a crash,
        claimed) need a counter: attempt = 1 + re-deliveries. The common path writes nothing."""
        if first_delivery or not entry_ids:
            return dict.fromkeys(entry_ids, 1)
        pipe = self.redis.pipeline(transaction=False)
        for entry_id in entry_ids:
            pipe.hincrby(DAY15_ATTEMPTS, entry_id, 1)
        return {entry_id: 1 + redeliveries for entry_id, redeliveries in zip(entry_ids, pipe.execute())}

    def dead_letter(self, entry_id: str, error: str) -> None:
        """Park an entry, all its fields and its error, in the dead-letter stream and acknowledge it, atomically."""
        self._dead_letter(keys=[DAY15_STREAM, DAY15_DEAD_LETTER, DAY15_ATTEMPTS, DAY15_COUNTERS],
                          args=[DAY15_GROUP, entry_id, error[:2000], day15_now_ms()])

    def depth(self) -> dict[str, int]:
        """lag (never delivered) and pending (delivered, not acknowledged): what is still to do."""
        import redis

        try:
            groups = self.redis.xinfo_groups(DAY15_STREAM)  # one round trip: it runs after every batch
        except redis.ResponseError:  # no stream yet
            return {"lag": 0, "pending": 0}
        for group in groups:
            if _text(group["name"]) == DAY15_GROUP:
                lag = group.get("lag")
                if lag is None:  # Redis cannot tell after trimming; count the entries after last-delivered-id
                    lag = len(self.redis.xrange(DAY15_STREAM, "(" + _text(group["last-delivered-id"]), "+"))
                return {"lag": int(lag), "pending": int(group["pending"])}
        return {"lag": int(self.redis.xlen(DAY15_STREAM)), "pending": 0}  # no consumer has joined yet

    # --- dead-letter tools --------------------------------------------------------------------
    def dead_letters(self, count: int = 100) -> list[tuple[str, dict]]:
        return _decoded(self.redis.xrange(DAY15_DEAD_LETTER, count=count))

    def replay(self, entry_ids: list[str] | None = None) -> int:
        """Put dead letters back on the stream (same event id, so the store still counts them once)."""
        letters = [(i, f) for i, f in self.dead_letters(count=100_000) if entry_ids is None or i in entry_ids]
        for entry_id, fields in letters:
            pipe = self.redis.pipeline(transaction=True)
            pipe.xadd(DAY15_STREAM, {k: fields[k] for k in ("event_id", "body", "received_at_ms") if k in fields},
                      maxlen=self.maxlen, approximate=True)
            pipe.xdel(DAY15_DEAD_LETTER, entry_id)
            pipe.execute()
        return len(letters)

    def purge(self) -> int:
        removed = self.redis.xlen(DAY15_DEAD_LETTER)
        self.redis.delete(DAY15_DEAD_LETTER)
        return removed


class day15_ReadAhead:
    """A read-script call in flight on a pool connection of its own (so the consumer's other commands,
    such as the XACK of the batch in hand, never queue behind its answer). Its entries are delivered to
    this consumer as soon as Redis runs it: if the consumer dies first, they wait in its pending list,
    like any batch in progress, for its restart or the janitor."""

    def __init__(self, buffer: day15_Buffer, consumer: str, count: int):
        from redis.exceptions import ConnectionError, TimeoutError

        self._buffer, self._consumer, self._count = buffer, consumer, count
        self._pool, self._connection = buffer.redis.connection_pool, None
        try:
            self._connection = self._pool.get_connection()
            self._connection.send_command("EVALSHA", buffer._read.sha, 1, DAY15_STREAM, DAY15_GROUP, consumer, count)
        except (ConnectionError, TimeoutError):
            self.discard()  # entries() then reads the ordinary way, with redis-py's retries
        except BaseException:
            self.discard()
            raise

    def entries(self) -> list[day15_Entry]:
        """The entries read ahead (waits for Redis's answer if it has not come yet)."""
        from redis.exceptions import ConnectionError, NoScriptError, TimeoutError

        if self._connection is None:
            return self._read_now()
        try:
            packed = self._connection.read_response()
        except NoScriptError:  # Redis restarted and forgot its scripts: the ordinary read loads it again
            self._release()
            return self._read_now()
        except (ConnectionError, TimeoutError):
            # The answer is lost. If Redis ran the read, those entries wait in this consumer's pending
            # list and the janitor claims them after DAY15_CLAIM_IDLE_MS: late, never lost.
            self.discard()
            return self._read_now()
        except BaseException:
            self.discard()
            raise
        self._release()
        return _unpacked(*packed) if packed else []

    def discard(self) -> None:
        """Give the connection back without reading the answer: closed first, so no later command reads it."""
        if self._connection is not None:
            self._connection.disconnect()
            self._release()

    def _read_now(self) -> list[day15_Entry]:
        return self._buffer.read_new(self._consumer, self._count, block_ms=0)

    def _release(self) -> None:
        self._pool.release(self._connection)
        self._connection = None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decoded(entries) -> list[tuple[str, dict]]:
    """Stream entries as (entry id, fields) in text (a dead letter's bytes that are no UTF-8 shown as U+FFFD),
    skipping entries deleted meanwhile (no fields)."""
    return [(entry_id.decode(), {k.decode(): v.decode(errors="replace") for k, v in fields.items()})
            for entry_id, fields in entries if fields]


def _as_entries(entries) -> list[day15_Entry]:
    """Stream entries from redis-py as day15_Entry, skipping entries deleted meanwhile (no fields)."""
    return [day15_Entry(entry_id.decode(), fields.get(b"body"), _received(fields.get(b"received_at_ms")))
            for entry_id, fields in entries if fields]


def _from_reply(reply) -> list[day15_Entry]:
    """XREADGROUP's reply (one list of entries per stream) as day15_Entry."""
    return _as_entries(entry for _, entries in (reply or []) for entry in entries)


def _received(value: bytes | None) -> str | None:
    """A receipt time as the read script passes it on: digits, or None (missing or no number)."""
    return value.decode() if value is not None and value.isdigit() else None


def _packed(events: list[tuple[str, bytes | str]]) -> tuple[str, bytes]:
    """Events as the enqueue script takes them: "id_length body_length ..." and the ids and bodies back to back."""
    parts = []
    for event_id, body in events:
        parts += (event_id.encode(), body.encode() if isinstance(body, str) else body)
    return " ".join(map(str, map(len, parts))), b"".join(parts)


def _unpacked(head: bytes, bodies: bytes) -> list[day15_Entry]:
    """The read script's two strings as day15_Entry (bodies stay bytes: the consumer decodes what parses)."""
    tokens, entries, start = head.decode().split(" "), [], 0
    for entry_id, received, length in zip(tokens[0::3], tokens[1::3], tokens[2::3]):
        body = None
        if length != "-":
            end = start + int(length)
            body, start = bodies[start:end], end
        entries.append(day15_Entry(entry_id, body, None if received == "-" else received))
    return entries


def day15_encode(event: dict) -> bytes:
    """Compact UTF-8 JSON, keys in the sender's order (orjson: C speed on the ingress path; Redis takes bytes as is)."""
    return orjson.dumps(event)
