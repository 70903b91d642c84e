"""The --demo run: a signed synthetic stream with duplicates, late and malformed events, then proof.

The proof is a reconciliation: the aggregates the consumers built must equal a recomputation from
the raw events the store kept (same MRR, same active customers, every subscription in the same state).
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

from day15_METRICS_saas import day15_recompute
from day15_SIGNING_webhooks import day15_sign

DAY15_DEMO_EVENTS = 600
DAY15_DEMO_SINGLE = 60  # sent one per request; the rest in batches
DAY15_DEMO_BATCH = 50


def day15_wait_ready(base_url: str, timeout: float = 30) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"webhook server not ready at {base_url} after {timeout}s")


def _post(session, base_url: str, path: str, secret: str, body: bytes, msg_id: str, when=None) -> int:
    return session.post(f"{base_url}{path}", data=body, headers=day15_sign(secret, msg_id, body, when), timeout=10).status_code


def day15_send_demo_traffic(base_url: str, secret: str, *, seed: int = 7, size: int = DAY15_DEMO_EVENTS) -> dict:
    import requests
    from shared_synthetic_data import saas

    events, malformed, injected = saas.build(seed=seed, size=size, defects=("duplicates", "out_of_order", "malformed"),
                                             end_date=datetime.now(timezone.utc).date())
    tally: dict[str, int] = {}
    with requests.Session() as session:
        for event in events[:DAY15_DEMO_SINGLE]:
            code = _post(session, base_url, "/webhook/events", secret, json.dumps(event).encode(), f"msg_{event['id']}")
            tally[str(code)] = tally.get(str(code), 0) + 1
        rest = events[DAY15_DEMO_SINGLE:]
        for start in range(0, len(rest), DAY15_DEMO_BATCH):
            chunk = rest[start:start + DAY15_DEMO_BATCH]
            body = json.dumps({"events": chunk}).encode()
            code = _post(session, base_url, "/webhook/batch", secret, body, f"msg_batch_{seed}_{start}")
            tally[f"batch {code}"] = tally.get(f"batch {code}", 0) + 1
        for n, body in enumerate(malformed):
            code = _post(session, base_url, "/webhook/events", secret, body.encode(), f"msg_bad_{n}")
            tally[str(code)] = tally.get(str(code), 0) + 1
        forged = _post(session, base_url, "/webhook/events", "whsec_" + "A" * 43, json.dumps(events[0]).encode(), "msg_forged")
        expired = _post(session, base_url, "/webhook/events", secret, json.dumps(events[0]).encode(), "msg_old",
                        when=datetime.now(timezone.utc) - timedelta(minutes=10))
        tally[f"{forged} forged"] = 1
        tally[f"{expired} expired"] = 1
    return {"sent": len(events), "unique": len({e["id"] for e in events}), "duplicates_sent": len(injected["duplicates"]),
            "malformed_sent": len(malformed), "responses": tally}


def day15_wait_drained(buffer, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        depth = buffer.depth()
        if depth["lag"] == 0 and depth["pending"] == 0:
            return depth
        time.sleep(0.25)
    raise TimeoutError(f"queue not drained after {timeout}s: {buffer.depth()}")


def day15_reconcile(store) -> dict:
    """Aggregates in the store against a recomputation from the raw events it kept."""
    reference = day15_recompute(store.raw_events())
    summary = store.summary()
    states = store.subscription_states()
    return {"processed": summary["processed"], "mrr_cents": summary["mrr_cents"], "recomputed_mrr_cents": reference.mrr_cents,
            "active_customers": summary["active_customers"], "recomputed_active": reference.active_customers,
            "subscriptions_match": states == reference.subscriptions,
            "match": summary["mrr_cents"] == reference.mrr_cents and summary["active_customers"] == reference.active_customers
            and states == reference.subscriptions and summary["processed"] == reference.unique_events}
