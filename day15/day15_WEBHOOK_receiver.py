"""The webhook server: python day15/day15_WEBHOOK_receiver.py [--debug]

Served by waitress (a production WSGI server); Flask's development server only with --debug.
SIGTERM or SIGINT: stop accepting, finish in-flight requests, exit 0 (day15_SERVER_waitress.py). The
handlers are installed first thing, so a stop during start-up is a clean exit too. Normally started
by day15_ORCHESTRATOR_main.py, which also supplies the embedded Redis address.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    stop = {"requested": False}
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.__setitem__("requested", True))
    parser = argparse.ArgumentParser(description="Receive signed SaaS webhooks into the Redis buffer.")
    parser.add_argument("--debug", action="store_true", help="Flask's development server with the debugger (never in production)")
    parser.add_argument("--parent-pid", type=int, help="set by the supervisor: stop when that process dies")
    args = parser.parse_args(argv)
    from day15_SUPERVISOR_processes import day15_exit_with_parent

    day15_exit_with_parent(args.parent_pid)
    from day15_RUNTIME_wiring import day15_build_app, day15_settle_heap, day15_startup
    from day15_SERVER_waitress import day15_create_server, day15_raise_file_limit, day15_serve

    settings = day15_startup("webhook")
    if settings is None:
        return 2
    app = day15_build_app(settings)
    day15_settle_heap()
    log = logging.getLogger("day15.webhook")
    if args.debug:
        app.run(settings.webhook_host, settings.webhook_port, debug=True, use_reloader=False)
        return 0
    day15_raise_file_limit()
    server = day15_create_server(app, settings, app.extensions["day15_count_rejected"])
    log.info("webhook server listening", extra={"host": settings.webhook_host, "port": settings.webhook_port,
                                                "signatures": "required" if settings.webhook_secret else "OFF (DAY15_ALLOW_UNSIGNED)"})
    day15_serve(server, lambda: stop["requested"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
