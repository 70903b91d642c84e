"""One daily run: data -> KPIs -> rendered e-mail -> ledger claim -> send with retries -> ledger mark.

`day14_run_report` takes its transport, ledger and clock as arguments, so tests drive it directly;
`day14_run_from_settings` wires the real ones; `day14_scheduled_job` is what the scheduler calls.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from day14_CONFIG_settings import DAY14_DIR
from day14_DATA_operations import day14_DataError, day14_Operations
from day14_DELIVERY_transports import (
    day14_AmbiguousError, day14_Delivery, day14_DeliveryError, day14_send_with_retries, day14_Transport, day14_without_bcc,
)
from day14_KPI_definitions import day14_compute_kpis, day14_load_targets, day14_missing_inputs, day14_TargetsError
from day14_LEDGER_sends import day14_LedgerKey, day14_SendLedger
from day14_MESSAGE_build import DAY14_REPORT_NAME, day14_build_message, day14_recipients_for
from day14_REPORT_render import day14_render_report

DAY14_LOG = logging.getLogger("day14.report")
DAY14_SYNTHETIC_DIR = DAY14_DIR / "state" / "synthetic"  # generated operations data when no data dir is set
DAY14_EXIT_CODES = {"sent": 0, "already_sent": 0, "in_progress": 0, "preview": 0, "failed": 1, "partial": 1,
                    "bad_input": 3}
DAY14_EXIT_DEGRADED = 4  # the report went out (or was previewed) but most KPIs have no data: look at the inputs


@dataclass(frozen=True)
class day14_RunOutcome:
    run_id: str
    report_date: date
    status: str  # sent | partial | already_sent | in_progress | preview | failed | bad_input
    subject: str = ""
    message_id: str = ""
    recipients: tuple[str, ...] = ()
    refused: dict = field(default_factory=dict)  # 5xx at RCPT: not owed
    owed: tuple[str, ...] = ()  # still owed the message: the next run sends to these only
    ambiguous: tuple[str, ...] = ()  # an earlier run died during DATA to these: not re-sent unless forced
    attempts: int = 0
    delivered: int = 0  # recipients this run delivered to
    earlier: int = 0  # recipients an earlier run of the day had already delivered to
    missed: tuple[str, ...] = ()
    no_data: tuple[str, ...] = ()
    kpis: int = 0
    missing_inputs: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()
    note: str = ""  # e.g. "sent, connection lost after acceptance: ..."
    error: str = ""
    duration_s: float = 0.0

    @property
    def degraded(self) -> bool:
        """Most KPIs without data: whatever was sent says so, and the exit code makes someone look."""
        return bool(self.kpis) and 2 * len(self.no_data) > self.kpis

    @property
    def exit_code(self) -> int:
        if self.ambiguous and self.status == "sent":
            return 1  # nobody can say whether they have it: a person decides whether to --force
        degraded = self.degraded and self.status in ("sent", "preview")
        return DAY14_EXIT_DEGRADED if degraded else DAY14_EXIT_CODES[self.status]

    def _delivered(self) -> str:
        return f"{self.delivered} recipient(s)" + (f" ({self.earlier} had it already)" if self.earlier else "")

    def summary(self) -> str:
        text = {
            "sent": f"sent '{self.subject}' to {self._delivered()}",
            "partial": f"sent '{self.subject}' to {self._delivered()}; {len(self.owed)} still owed "
                       f"({', '.join(self.owed)}): the next run sends to them only",
            "already_sent": "already sent for this date to everyone on the list (use --force to send again)",
            "in_progress": "another run is sending this report right now",
            "preview": f"preview of '{self.subject}' written, nothing sent",
            "failed": f"delivery failed: {self.error}", "bad_input": f"input unusable: {self.error}",
        }[self.status]
        if self.refused and self.status in ("sent", "partial"):
            text += f", {len(self.refused)} refused"
        if self.ambiguous:
            text += (f"; delivery to {', '.join(self.ambiguous)} uncertain (it may have arrived: not sent again,"
                     " --force does)")
        if self.note:
            text += f"; {self.note}"
        if self.degraded:
            text += f"; degraded: {len(self.no_data)} of {self.kpis} KPIs have no data"
        if self.missing_inputs:
            text += f"; missing inputs: {'; '.join(self.missing_inputs)}"
        files = f"; files: {', '.join(str(p) for p in self.files)}" if self.files else ""
        return f"day14 {self.report_date}: {text}{files}"


def day14_default_report_date(tz_name: str, now: datetime) -> date:
    """Yesterday in the network's own time zone: the last complete service day."""
    return now.astimezone(ZoneInfo(tz_name)).date() - timedelta(days=1)


def day14_operations_dir(settings, report_date: date) -> Path:
    """The configured data folder, or seeded synthetic data for the report date (same date, same bytes)."""
    if settings.data_dir:
        return Path(settings.data_dir)
    from shared_synthetic_data import transport

    target = DAY14_SYNTHETIC_DIR / f"{report_date:%Y%m%d}"
    if not (target / "manifest.json").is_file():
        transport.generate(end_date=report_date).write(target)
    return target / "transport"


def day14_write_preview(message, folder: Path, report_date: date) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / f"day14_preview_{report_date:%Y%m%d}.html"
    eml_path = folder / f"day14_preview_{report_date:%Y%m%d}.eml"
    html_path.write_text(message.get_body(("html",)).get_content(), encoding="utf-8")
    eml_path.write_bytes(bytes(day14_without_bcc(message)))  # a file is a copy anyone may open: no Bcc list
    return html_path, eml_path


def day14_run_report(settings, transport: day14_Transport | None, ledger: day14_SendLedger | None, *,
                     report_date: date, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                     force: bool = False, preview_dir: Path | None = None,
                     sleep: Callable[[float], None] = time.sleep,
                     should_stop: Callable[[], bool] = lambda: False) -> day14_RunOutcome:
    run_id, started = uuid.uuid4().hex[:12], time.monotonic()
    log = {"run_id": run_id, "report_date": report_date.isoformat()}
    try:
        ops = day14_Operations(day14_operations_dir(settings, report_date), settings.timezone)
        results = day14_compute_kpis(ops, report_date, day14_load_targets(settings.kpi_targets_path))
        missing_inputs = day14_missing_inputs(ops, report_date)
    except (day14_DataError, day14_TargetsError) as exc:
        DAY14_LOG.error("input unusable", extra={**log, "error": str(exc)})
        return day14_RunOutcome(run_id, report_date, "bad_input", error=str(exc), duration_s=time.monotonic() - started)
    report = day14_render_report(results, report_date, network_name=settings.network_name,
                                 generated_at=now().astimezone(ZoneInfo(settings.timezone)),
                                 missing_inputs=missing_inputs)
    recipients = day14_recipients_for(settings, report.missed)
    message = day14_build_message(report, sender=settings.sender_email, recipients=recipients,
                                  reply_to=settings.reply_to, report_date=report_date, now=now())
    base = dict(run_id=run_id, report_date=report_date, subject=report.subject, message_id=message["Message-ID"],
                recipients=recipients.envelope, missed=report.missed, no_data=report.no_data, kpis=len(results),
                missing_inputs=missing_inputs)
    DAY14_LOG.info("report rendered", extra={**log, "kpis": len(results), "missed": len(report.missed),
                                             "at_risk": len(report.at_risk), "no_data": len(report.no_data),
                                             "escalated": bool(report.missed)})
    if 2 * len(report.no_data) > len(results):
        DAY14_LOG.warning("degraded report: most KPIs have no data", extra={
            **log, "no_data": len(report.no_data), "kpis": len(results), "missing_inputs": "; ".join(missing_inputs)})
    if preview_dir is not None:
        files = day14_write_preview(message, Path(preview_dir), report_date)
        return day14_RunOutcome(status="preview", files=files, duration_s=time.monotonic() - started, **base)

    key = day14_LedgerKey(DAY14_REPORT_NAME, report_date.isoformat())
    claim = ledger.claim(key, message["Message-ID"], now=now(), force=force, envelope=recipients.envelope,
                         stale_after=timedelta(minutes=settings.claim_timeout_minutes))
    if claim.outcome != "claimed":
        DAY14_LOG.info("nothing to send", extra={**log, "outcome": claim.outcome})
        return day14_RunOutcome(status=claim.outcome, duration_s=time.monotonic() - started, **base)
    if claim.took_over:
        DAY14_LOG.warning("re-claimed an earlier send", extra={**log, "previous": claim.took_over, "forced": force})
    if claim.ambiguous:
        DAY14_LOG.warning("an earlier run died during DATA; not sent again to those recipients (--force does)",
                          extra={**log, "ambiguous": ",".join(claim.ambiguous)})
    owed = ledger.owed(key, recipients.envelope)
    base["earlier"] = sum(row["status"] == "delivered" for a, row in ledger.recipients(key).items()
                          if a in recipients.envelope and a not in owed)
    delivery = day14_deliver(transport, ledger, key, message, owed, settings=settings, now=now, sleep=sleep,
                             should_stop=should_stop)
    return day14_finish(ledger, key, delivery, transport.name, log=log, base=base, now=now, started=started)


def day14_deliver(transport, ledger, key, message, owed, *, settings, now, sleep, should_stop):
    """Send to the recipients still owed, writing each attempt's per-recipient outcome as it happens."""
    def before_data(accepted):  # from here until DATA's reply, a crash leaves the delivery ambiguous
        ledger.set_recipients(key, {a: ("sending", "DATA under way") for a in accepted}, now=now())

    def on_attempt(sent_to, outcome):
        if isinstance(outcome, day14_AmbiguousError):
            updates = {a: ("ambiguous", str(outcome)) for a in sent_to}
        elif isinstance(outcome, day14_DeliveryError):
            updates = {a: ("deferred", outcome.deferred.get(a, str(outcome))) for a in sent_to}
            updates |= {a: ("refused", reply) for a, reply in outcome.refused.items()}
        else:
            updates = {a: ("delivered", outcome.server_reply) for a in outcome.accepted}
            updates |= {a: ("refused", r) for a, r in outcome.refused.items()}
            updates |= {a: ("deferred", r) for a, r in outcome.deferred.items()}
        ledger.set_recipients(key, updates, now=now(), attempted=True)

    if not owed:
        return None
    try:
        return day14_send_with_retries(transport, message, owed, attempts=settings.max_send_attempts,
                                       backoff_seconds=settings.retry_backoff_seconds, sleep=sleep,
                                       on_attempt=on_attempt, before_data=before_data, should_stop=should_stop)
    except day14_DeliveryError as exc:
        return exc


def day14_finish(ledger, key, delivery, transport_name, *, log, base, now, started) -> day14_RunOutcome:
    """Close the claim truthfully and say what happened: sent, partial (some still owed) or failed."""
    people = ledger.recipients(key)
    owed = ledger.owed(key, base["recipients"])
    refused = {a: row["reply"] for a, row in people.items() if row["status"] == "refused"}
    ambiguous = tuple(a for a, row in people.items() if row["status"] == "ambiguous")
    duration = round(time.monotonic() - started, 3)
    if isinstance(delivery, day14_DeliveryError) and not isinstance(delivery, day14_AmbiguousError):
        status = "partial" if any(row["status"] == "delivered" for row in people.values()) else "failed"
        ledger.finish(key, status, now=now(), attempts=delivery.attempts, server_reply=None, error=str(delivery))
        DAY14_LOG.error("send failed", extra={**log, "transport": transport_name, "reply": str(delivery),
                                              "attempts": delivery.attempts, "owed": len(owed), "duration_s": duration})
        return day14_RunOutcome(status=status, error=str(delivery), attempts=delivery.attempts, refused=refused,
                                owed=owed, ambiguous=ambiguous, duration_s=duration, **base)
    if isinstance(delivery, day14_AmbiguousError):  # recorded per recipient; nothing owed, nothing re-sent
        DAY14_LOG.warning("delivery ambiguous; not sent again", extra={**log, "reply": str(delivery)})
        delivery = day14_Delivery(delivered={}, refused={}, deferred={}, attempts=delivery.attempts,
                                  server_replies=(), after_acceptance=(str(delivery),))
    attempts = delivery.attempts if delivery else 0
    note = "; ".join(delivery.after_acceptance) if delivery else ""
    status = "partial" if owed else "sent"
    error = "; ".join(f"{a}: {people[a]['reply']}" for a in owed) if owed else ""
    reply = "; ".join(delivery.server_replies) if delivery else None
    ledger.finish(key, status, now=now(), attempts=attempts, server_reply=reply, note=note, error=error)
    if refused:
        DAY14_LOG.warning("some recipients refused for good; not re-sent to the others",
                          extra={**log, "refused": ",".join(f"{a} ({r})" for a, r in refused.items())})
    DAY14_LOG.log(logging.WARNING if owed else logging.INFO, "report sent" if not owed else "report sent, some still owed",
                  extra={**log, "outcome": status, "transport": transport_name,
                         "accepted": len(delivery.delivered) if delivery else 0, "refused": len(refused),
                         "owed": len(owed), "attempts": attempts, "message_id": base["message_id"],
                         "server_reply": reply or "", "note": note, "duration_s": duration})
    return day14_RunOutcome(status=status, refused=refused, owed=owed, ambiguous=ambiguous, attempts=attempts,
                            delivered=len(delivery.delivered) if delivery else 0,
                            note=note, error=error, duration_s=duration, **base)


def day14_run_from_settings(settings, *, report_date: date | None = None, force: bool = False,
                            preview_dir: Path | None = None,
                            should_stop: Callable[[], bool] = lambda: False) -> day14_RunOutcome:
    from day14_DELIVERY_transports import day14_transport_from_settings

    report_date = report_date or day14_default_report_date(settings.timezone, datetime.now(timezone.utc))
    if preview_dir is not None:
        return day14_run_report(settings, None, None, report_date=report_date, preview_dir=preview_dir)
    ledger = day14_SendLedger(settings.ledger_path)
    try:
        with day14_transport_from_settings(settings) as transport:
            return day14_run_report(settings, transport, ledger, report_date=report_date, force=force,
                                    should_stop=should_stop)
    finally:
        ledger.close()


def day14_scheduled_job() -> None:
    """The scheduler's job: fresh settings each day (config edits apply without a restart), yesterday's report."""
    from day14_CONFIG_settings import day14_load_settings

    outcome = day14_run_from_settings(day14_load_settings())
    DAY14_LOG.info("scheduled run finished", extra={"run_id": outcome.run_id, "status": outcome.status,
                                                    "report_date": outcome.report_date.isoformat()})
