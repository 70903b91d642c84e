"""The dashboard's trends come from the store, the same on SQLite and PostgreSQL."""
from datetime import datetime, timezone


from day15_METRICS_saas import day15_recompute
from day15_STORE_analytics import day15_StoredEvent

NOW = datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc)
NOW_MS = int(NOW.timestamp() * 1000)


def _load(store, events, *, received_ms, processed_ms):
    return store.apply_batch([day15_StoredEvent(str(n), e, received_ms) for n, e in enumerate(events)], processed_ms)


def test_mrr_over_time_ends_at_todays_mrr(any_store, saas_events):
    events = saas_events[0]
    _load(any_store, events, received_ms=NOW_MS - 1000, processed_ms=NOW_MS)
    trends = any_store.trends(now=NOW)
    series = trends["mrr_by_day"]
    assert series and [point["day"] for point in series] == sorted(point["day"] for point in series)
    assert series[-1]["mrr_cents"] == any_store.summary(now=NOW)["mrr_cents"] == day15_recompute(events).mrr_cents
    assert len(series) <= trends["mrr_days"]


def test_events_per_second_and_queue_depth_over_the_last_minutes(any_store, saas_events):
    events = [e for e in {e["id"]: e for e in saas_events[0]}.values()][:30]
    # 20 events received 100 s ago, processed 40 s later; 10 received 30 s ago, processed 5 s ago
    _load(any_store, events[:20], received_ms=NOW_MS - 100_000, processed_ms=NOW_MS - 60_000)
    _load(any_store, events[20:], received_ms=NOW_MS - 30_000, processed_ms=NOW_MS - 5_000)
    trends = any_store.trends(now=NOW)
    width = trends["bucket_seconds"]
    points = trends["throughput"]
    assert len(points) == trends["window_seconds"] // width and points[-1]["at_ms"] <= NOW_MS
    assert sum(p["events"] for p in points) == 30
    assert max(p["events_per_second"] for p in points) == round(20 / width, 2)
    depth = {p["at_ms"]: p["queue_depth"] for p in points}
    assert depth[max(t for t in depth if t <= NOW_MS - 100_000 + width * 1000)] == 20  # received, none processed yet
    assert points[-1]["queue_depth"] == 0  # everything processed by now
    assert max(depth.values()) == 20


def test_the_latency_distribution_counts_every_recent_event_once(any_store, saas_events):
    events = [e for e in {e["id"]: e for e in saas_events[0]}.values()][:12]
    _load(any_store, events[:5], received_ms=NOW_MS - 2_000, processed_ms=NOW_MS - 1_980)  # 20 ms
    _load(any_store, events[5:], received_ms=NOW_MS - 2_000, processed_ms=NOW_MS - 700)  # 1300 ms
    histogram = any_store.trends(now=NOW)["latency_histogram"]
    assert sum(b["events"] for b in histogram) == 12
    counted = {b["le_ms"]: b["events"] for b in histogram if b["events"]}
    assert counted == {25: 5, 2500: 7}
    assert histogram[-1]["le_ms"] is None  # the open-ended last bucket


def test_an_empty_store_has_empty_trends(any_store):
    trends = any_store.trends(now=NOW)
    assert trends["mrr_by_day"] == [] and sum(p["events"] for p in trends["throughput"]) == 0
    assert all(p["queue_depth"] == 0 for p in trends["throughput"]) and sum(b["events"] for b in trends["latency_histogram"]) == 0


def test_the_dashboard_draws_the_trends_from_the_api_without_a_cdn(client):
    page = client.get("/").get_data(as_text=True)
    assert "/api/trends" in page and "<svg" in page
    assert "src=" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    trends = client.get("/api/trends").json
    assert {"mrr_by_day", "throughput", "latency_histogram"} <= set(trends)
