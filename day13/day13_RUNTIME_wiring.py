"""Settings into working parts: database, configs (keeping the last good one), receivers, the run lock."""
from __future__ import annotations

import fcntl
import logging
import os
import signal
from contextlib import contextmanager, ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from day13_NOTIFY_receivers import (day13_Dispatcher, day13_LocalSlack, day13_LocalTickets, day13_OutboxHandler,
                                    day13_SlackWebhook, day13_SmtpEmail, day13_TicketApi)
from day13_ROUTING_tree import day13_parse_routing, day13_RoutingError
from day13_RULES_classify import day13_parse_rules, day13_RulesError
from day13_RUN_context import day13_RunContext
from day13_STORE_audit import day13_Store

DAY13_LOG = logging.getLogger("day13")


class day13_ConfigUnusable(RuntimeError):
    """Neither the file nor any earlier accepted version can be used."""


class day13_Busy(RuntimeError):
    """Another run holds the lock."""


@contextmanager
def day13_run_lock(path: Path) -> Iterator[None]:
    """A cross-process lock (flock): a cron run and the scheduler never triage at the same time."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise day13_Busy(f"another triage run holds {path}") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def day13_open_run_store(settings, stack: ExitStack) -> day13_Store:
    """The store a triage run writes through, closed with the run; its WAL is checkpointed by a thread of its own."""
    store = day13_Store.open(settings.audit_log_path, background_checkpoint=True)
    stack.callback(store.close)
    return store


def day13_load_config(store, kind: str, path: Path, parse, errors, now: datetime):
    """The file's config if it parses; otherwise the last accepted version, with the rejection audited."""
    audit = store.audit("day13-config")
    try:
        text = Path(path).read_text(encoding="utf-8")
        config = parse(text)
    except Exception as exc:  # any file the parser chokes on is rejected, never a crash of every run from now on
        if not isinstance(exc, (OSError, UnicodeDecodeError, *errors)):
            exc = f"unreadable: {type(exc).__name__}"
        previous = store.latest_config(kind)
        with store.transaction(audit):
            audit.record("config_rejected", now, rationale=f"{Path(path).name}: {exc}", kind=kind,
                         kept=previous["version"] if previous else None)
        DAY13_LOG.error("configuration rejected; previous version stays in force",
                        extra={"kind": kind, "path": str(path), "error": str(exc), "kept": previous["version"] if previous else None})
        if previous is None:
            raise day13_ConfigUnusable(f"{kind} {path}: {exc} (and no earlier version was ever accepted)") from None
        return parse(previous["content"])
    if not store.config_known(kind, config.version):
        with store.transaction(audit):
            store.add_config(kind, config.version, text, now)
            audit.record("config_loaded", now, rationale=f"{kind} {Path(path).name}", kind=kind, version=config.version)
    return config


def day13_load_configs(store, settings, now: datetime):
    rules = day13_load_config(store, "rules", settings.rules_path, day13_parse_rules, (day13_RulesError,), now)
    routing = day13_load_config(store, "routing", settings.routing_path, day13_parse_routing, (day13_RoutingError,), now)
    return rules, routing


def day13_dispatcher(settings, store, stack: ExitStack) -> day13_Dispatcher:
    """Real receivers where configured; local stand-ins otherwise (Slack table, SMTP sink, ticket table)."""
    slack = (day13_SlackWebhook(settings.slack_webhook_url.get_secret_value()) if settings.slack_webhook_url
             else day13_LocalSlack(store))
    tickets = (day13_TicketApi(settings.ticket_api_url, settings.ticket_api_token.get_secret_value()
                               if settings.ticket_api_token else None) if settings.ticket_api_url else day13_LocalTickets(store))
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        email = day13_SmtpEmail(settings.smtp_host, settings.smtp_port, settings.smtp_security, settings.email_from,
                                settings.smtp_user, password)
    else:
        email = day13_SmtpEmail(*stack.enter_context(day13_embedded_smtp(settings.outbox_dir)), "none", settings.email_from)
    return day13_Dispatcher(slack, email, tickets)


@contextmanager
def day13_embedded_smtp(outbox: Path) -> Iterator[tuple[str, int]]:
    """A real SMTP server on loopback (aiosmtpd) whose mail lands as .eml files in the outbox."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(day13_OutboxHandler(outbox), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield "127.0.0.1", port
    finally:
        controller.stop()


def day13_utc_now() -> datetime:
    return datetime.now(timezone.utc)


def day13_fault(name: str | None):
    """The fault drill's checkpoint: SIGKILL this process at the named point, as a power cut would."""
    def checkpoint(point: str) -> None:
        if point == name:
            DAY13_LOG.warning("fault drill: killing the run", extra={"point": point})
            os.kill(os.getpid(), signal.SIGKILL)
    return checkpoint


def day13_run_context(settings, store, stack: ExitStack, now=day13_utc_now, fault: str | None = None) -> day13_RunContext:
    """Configs (last good version kept), receivers and the clock, bundled for one run's stages."""
    rules, routing = day13_load_configs(store, settings, now())
    return day13_RunContext(store, rules, routing, day13_dispatcher(settings, store, stack), now=now,
                            file_settle_seconds=settings.file_settle_seconds, checkpoint=day13_fault(fault))
