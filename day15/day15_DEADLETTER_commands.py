"""The dead-letter commands behind `day15_ORCHESTRATOR_main.py dlq list|replay|purge`; output goes to stdout."""
from __future__ import annotations

import json
from typing import Sequence

from day15_RUNTIME_wiring import day15_build_buffer

DAY15_DLQ_ACTIONS = ("list", "replay", "purge")


def day15_dead_letter_command(settings, action: str, entry_ids: Sequence[str] = ()) -> int:
    """list | replay [ENTRY_ID ...] | purge against the configured Redis; 2 when only the embedded one exists."""
    if settings.redis_host is None:
        print("dead letters live in Redis; the embedded fakeredis forgets them when the pipeline stops. "
              "Set DAY15_REDIS_HOST to inspect a real one.")
        return 2
    buffer = day15_build_buffer(settings)
    if action == "list":
        for entry_id, fields in buffer.dead_letters():
            print(json.dumps({"entry": entry_id, "event_id": fields.get("event_id"), "error": fields.get("error"),
                              "dead_lettered_at_ms": fields.get("dead_lettered_at_ms")}))
        return 0
    if action == "replay":
        print(f"replayed {buffer.replay(list(entry_ids) or None)} dead letter(s) onto the stream")
        return 0
    print(f"purged {buffer.purge()} dead letter(s)")
    return 0
