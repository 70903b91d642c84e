"""The MIME message: mixed > alternative(plain, related(html, png)) + the CSV attachment.

The Message-ID is derived from (report, date, sender domain), so every retry and every re-run of
the same day carries the same id and a receiving system can recognise the duplicate.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from day14_REPORT_render import day14_RenderedReport

DAY14_REPORT_NAME = "transport-kpi"


@dataclass(frozen=True)
class day14_Recipients:
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()

    @property
    def envelope(self) -> tuple[str, ...]:
        """Everyone the server must deliver to, Bcc included, each once."""
        return tuple(dict.fromkeys(self.to + self.cc + self.bcc))

    @property
    def key(self) -> str:
        return ",".join(sorted(self.envelope))


def day14_recipients_for(settings, missed: tuple[str, ...]) -> day14_Recipients:
    """Configured recipients; when a KPI is missed the escalation list is copied in."""
    cc = settings.cc + (settings.escalation_recipients if missed else ())
    return day14_Recipients(to=settings.recipients, cc=tuple(dict.fromkeys(cc)), bcc=settings.bcc)


def day14_message_id(report_date: date, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1]
    return f"<day14-{DAY14_REPORT_NAME}-{report_date:%Y%m%d}@{domain}>"


def day14_build_message(report: day14_RenderedReport, *, sender: str, recipients: day14_Recipients,
                        reply_to: str | None, report_date: date, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients.to)
    if recipients.cc:
        message["Cc"] = ", ".join(recipients.cc)
    if recipients.bcc:
        message["Bcc"] = ", ".join(recipients.bcc)  # smtplib.send_message strips it before transmission
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = report.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = day14_message_id(report_date, sender)
    message.set_content(report.text)
    message.add_alternative(report.html, subtype="html")
    html_part = message.get_payload()[1]
    html_part.add_related(report.chart_png, maintype="image", subtype="png", cid=f"<{report.chart_cid}>",
                          filename="kpi_chart.png", disposition="inline")
    message.add_attachment(report.csv_bytes, maintype="text", subtype="csv", filename=report.csv_filename)
    return message
