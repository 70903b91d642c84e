"""How the webhook server serves: waitress options, ordered shutdown, and JSON for waitress's own refusals.

Connections: waitress keeps idle and slow connections in its event loop (no thread each), so a few
hundred of them cost sockets, not workers. DAY15_CONNECTION_LIMIT is set far above that, with poll()
instead of select() (select stops at 1,024 descriptors), and an idle keep-alive connection is closed
after DAY15_IDLE_SECONDS, so idle clients can neither fill the server nor hold it for long.
waitress's own refusals (a body over the limit, a malformed request) are JSON like the app's, and
counted as rejected requests. Shutdown (SIGTERM or SIGINT): the listening socket is closed first (stop accepting), requests in
flight are finished and their answers flushed, for at most DAY15_DRAIN_SECONDS, then what is left, if
anything, is logged and the process exits.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

DAY15_LOG = logging.getLogger("day15.webhook")
DAY15_THREADS = 8  # requests are short (verify, validate, one Redis round trip)
DAY15_DRAIN_SECONDS = 10  # in-flight requests get this long to finish on shutdown
DAY15_RECV_BYTES = 65_536  # batch bodies run to a megabyte: read them in 64 KB steps, not waitress's 8 KB
DAY15_CONNECTION_LIMIT = 2_000  # open connections at most (waitress's default, 100, let 120 idle sockets starve /health)
DAY15_IDLE_SECONDS = 30  # an idle keep-alive connection is closed after this (waitress's default: 120)
DAY15_LOOP_SECONDS = 0.2  # the event loop wakes at least this often to notice a stop request


def day15_server_options(settings) -> dict:
    """waitress options for the webhook server (the benchmark serves with the same ones)."""
    return {"threads": DAY15_THREADS, "recv_bytes": DAY15_RECV_BYTES, "max_request_body_size": settings.max_body_bytes + 1,
            "clear_untrusted_proxy_headers": True, "connection_limit": DAY15_CONNECTION_LIMIT,
            "channel_timeout": DAY15_IDLE_SECONDS, "cleanup_interval": 5, "asyncore_use_poll": True}


def day15_create_server(app, settings, on_refused: Callable[[], None], host: str | None = None, port: int | None = None):
    """A waitress server for app whose own error answers (413, 400, ...) are JSON and reported to on_refused."""
    import orjson
    from waitress import create_server
    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask

    class _JsonErrorTask(ErrorTask):
        def execute(self):
            error = self.request.error
            body = {"error": error.reason.lower(), "detail": error.body}
            if error.code == 413:
                body = {"error": "payload too large", "limit_bytes": settings.max_body_bytes}
            try:
                on_refused()
            except Exception as exc:  # noqa: BLE001 - counting must never turn a refusal into no answer
                DAY15_LOG.warning("refusal not counted", extra={"error": f"{type(exc).__name__}: {str(exc)[:200]}"})
            payload = orjson.dumps(body)
            self.status = f"{error.code} {error.reason}"
            self.response_headers.append(("Content-Type", "application/json"))
            self.set_close_on_finish()
            self.content_length = len(payload)
            self.write(payload)

    class _Channel(HTTPChannel):
        error_task_class = _JsonErrorTask

    server = create_server(app, host=host or settings.webhook_host, port=settings.webhook_port if port is None else port,
                           **day15_server_options(settings))
    server.channel_class = _Channel
    return server


def day15_raise_file_limit(wanted: int = DAY15_CONNECTION_LIMIT + 256) -> None:
    """Let the process hold DAY15_CONNECTION_LIMIT sockets (a common soft limit is 1,024 descriptors)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def day15_serve(server, stop_requested: Callable[[], bool], drain_seconds: float = DAY15_DRAIN_SECONDS) -> int:
    """Run waitress's event loop until stop_requested(), then shut down in order; the number of requests
    still unfinished when the drain time ran out (0 normally)."""
    from waitress import wasyncore

    loop_options = {"timeout": DAY15_LOOP_SECONDS, "map": server._map, "use_poll": server.adj.asyncore_use_poll, "count": 1}
    while not stop_requested():
        wasyncore.loop(**loop_options)
    wasyncore.dispatcher.close(server)  # the listening socket only: nothing new is accepted from here on
    DAY15_LOG.info("webhook server stopping: no new connections; finishing requests in flight",
                   extra={"in_flight": _in_flight(server)})
    deadline = time.monotonic() + drain_seconds
    while _in_flight(server) and time.monotonic() < deadline:
        wasyncore.loop(**{**loop_options, "timeout": 0.05})
    left = _in_flight(server)
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
    for channel in list(server._map.values()):
        if channel is not server.trigger:
            channel.close()
    server.trigger.close()
    if left:
        DAY15_LOG.error("webhook server stopped with requests unfinished; their senders got no answer and will retry",
                        extra={"unfinished": left, "drain_seconds": drain_seconds})
    else:
        DAY15_LOG.info("webhook server stopped after draining in-flight requests")
    return left


def _in_flight(server) -> int:
    """Requests received and not yet answered in full: being served, queued for a thread, or still being sent
    (idle keep-alive connections do not count)."""
    return sum(1 for channel in list(server.active_channels.values()) if channel.requests or channel.total_outbufs_len)
