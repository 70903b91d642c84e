"""What one triage run carries from stage to stage: the store, configs, receivers, clock, audit, counts.

Every stage takes this context explicitly; nothing is global. `checkpoint(name)` is the fault-drill
seam: the ORCHESTRATOR's `run --fault NAME` makes the named point kill the process with SIGKILL, so
the tests can crash a real run at each step and check that the next run resumes it.
"""
from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from day13_RULES_classify import DAY13_SEVERITIES

DAY13_FAULT_POINTS = ("after_ingest_commit", "mid_routing", "mid_notification", "mid_escalation")
DAY13_ROUTE_CHUNK = 10_000  # alerts routed per transaction: a crash re-does at most this many decisions


@dataclass
class day13_RunSummary:
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    received: int = 0
    new_alerts: int = 0
    duplicates: int = 0
    already_seen: int = 0
    conflicts: int = 0
    quarantined: int = 0
    files_waiting: int = 0
    severities: Counter = field(default_factory=Counter)
    routed: int = 0
    silenced: int = 0
    inhibited: int = 0
    resumed_messages: int = 0
    notifications_sent: int = 0
    notifications_failed: int = 0
    sla_breaches: int = 0
    escalated: int = 0
    duration_s: float = 0.0

    def fields(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "severities"}
        out.update({f"severity_{s.lower()}": self.severities.get(s, 0) for s in DAY13_SEVERITIES})
        return out


def _no_fault(name: str) -> None:
    return None


@dataclass
class day13_RunContext:
    store: object  # day13_Store
    rules: object  # day13_Rules
    routing: object  # day13_Routing
    dispatcher: object  # day13_Dispatcher
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    actor: str = "day13-triage"
    file_settle_seconds: float = 0.0
    route_chunk: int = DAY13_ROUTE_CHUNK
    checkpoint: Callable[[str], None] = _no_fault
    summary: day13_RunSummary = field(default_factory=day13_RunSummary)

    def __post_init__(self) -> None:
        self.audit = self.store.audit(self.actor, self.rules.version, self.routing.version)
