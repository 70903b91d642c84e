"""The webhook server: python day15/day15_WEBHOOK_receiver.py [--debug]

Served by waitress (a production WSGI server); Flask's development server only with --debug.
SIGTERM or SIGINT: stop accepting, let in-flight requests finish, exit 0. Normally started by
day15_ORCHESTRATOR_main.py, which also supplies the embedded Redis address.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys

DAY15_THREADS = 8  # requests are short (verify, validate, one Redis round trip)
DAY15_DRAIN_SECONDS = 10  # in-flight requests get this long to finish on shutdown
DAY15_RECV_BYTES = 65_536  # batch bodies run to a megabyte: read them in 64 KB steps, not waitress's 8 KB


def day15_server_options(settings) -> dict:
    """waitress options for the webhook server (the benchmark serves with the same ones)."""
    return {"threads": DAY15_THREADS, "recv_bytes": DAY15_RECV_BYTES, "max_request_body_size": settings.max_body_bytes + 1,
            "clear_untrusted_proxy_headers": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Receive signed SaaS webhooks into the Redis buffer.")
    parser.add_argument("--debug", action="store_true", help="Flask's development server with the debugger (never in production)")
    args = parser.parse_args(argv)
    from day15_RUNTIME_wiring import day15_build_app, day15_settle_heap, day15_startup

    settings = day15_startup("webhook")
    if settings is None:
        return 2
    app = day15_build_app(settings)
    day15_settle_heap()
    log = logging.getLogger("day15.webhook")
    log.info("webhook server listening", extra={"host": settings.webhook_host, "port": settings.webhook_port,
                                                "signatures": "required" if settings.webhook_secret else "OFF (DAY15_ALLOW_UNSIGNED)"})
    if args.debug:
        app.run(settings.webhook_host, settings.webhook_port, debug=True, use_reloader=False)
        return 0
    from waitress import create_server

    server = create_server(app, host=settings.webhook_host, port=settings.webhook_port, **day15_server_options(settings))

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.task_dispatcher.shutdown(cancel_pending=False, timeout=DAY15_DRAIN_SECONDS)
        server.close()
        log.info("webhook server stopped after draining in-flight requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
