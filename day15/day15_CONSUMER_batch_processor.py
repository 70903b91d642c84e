"""One consumer process of the group: python day15/day15_CONSUMER_batch_processor.py --name consumer-1

Normally started (and restarted) by day15_ORCHESTRATOR_main.py. SIGTERM or SIGINT: stop reading,
finish and commit the batch in hand (and the one read ahead, if any), acknowledge them, exit 0.
A stable --name matters: on restart the consumer first takes back its own unacknowledged entries.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    stop = {"requested": False}  # first thing: a stop during start-up is a clean exit too
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.__setitem__("requested", True))
    parser = argparse.ArgumentParser(description="Consume day15 events from Redis into the analytics store.")
    parser.add_argument("--name", default=f"consumer-{os.getpid()}", help="consumer name in the group (keep it stable)")
    parser.add_argument("--fault", choices=("before_commit", "after_commit"),
                        help="fault drill: SIGKILL this process at that point of its first batch (recovery tests, game days)")
    parser.add_argument("--parent-pid", type=int, help="set by the supervisor: stop when that process dies")
    args = parser.parse_args(argv)
    from day15_SUPERVISOR_processes import day15_exit_with_parent

    day15_exit_with_parent(args.parent_pid)
    from day15_PROCESSING_batches import day15_ConsumerHooks
    from day15_RUNTIME_wiring import day15_build_consumer, day15_settle_heap, day15_startup

    settings = day15_startup("consumer")
    if settings is None:
        return 2
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)  # noqa: E731 - as abrupt as a power cut
    hooks = day15_ConsumerHooks(**({args.fault: die} if args.fault else {}))
    consumer = day15_build_consumer(settings, args.name, hooks=hooks)
    day15_settle_heap()
    consumer.run(lambda: stop["requested"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
