"""The Slack Block Kit message (and the same report as HTML e-mail), checked against Slack's limits.

Slack rejects a message over its limits with `invalid_blocks`; rather than find out at 08:00, the
message is validated before posting and trimmed deliberately: long texts are cut with an ellipsis,
sections keep at most 10 fields, and the message at most 50 blocks. Slack counts those limits in
Unicode code points (an emoji is one), of the text as sent (an escaped `&amp;` is five).

Every value that enters mrkdwn is escaped (`&`, `<`, `>`), so a campaign named `<!channel>` or
`<https://x|click>` shows as written and pings or links nothing. Campaign names are cut within their
line (day11_cut, the same rule as the n8n export's `cut`), so every line keeps its ROAS and spend.
"""
from __future__ import annotations

import re

from datetime import timedelta
from decimal import Decimal

from day11_KPI_report import day11_Report

DAY11_MAX_BLOCKS = 50
DAY11_MAX_SECTION_TEXT = 3000
DAY11_MAX_HEADER_TEXT = 150
DAY11_MAX_FIELDS = 10
DAY11_MAX_FIELD_TEXT = 2000
DAY11_MAX_NAME = 120  # code points of an escaped campaign name: 3 lines with figures stay far below 3000
DAY11_LABELS = {"spend": "Spend", "impressions": "Impressions", "clicks": "Clicks", "ctr": "CTR", "cpc": "CPC",
                "conversions": "Conversions", "cpa": "CPA", "revenue": "Revenue", "roas": "ROAS",
                "sessions": "Sessions", "users": "Users", "site_conversion_rate": "Site conv. rate"}
DAY11_MONEY = {"spend", "cpc", "cpa", "revenue"}
DAY11_PERCENT = {"ctr", "site_conversion_rate"}


def day11_format(kpi: str, value: Decimal | None, currency: str) -> str:
    if value is None:
        return "n/a"
    if kpi in DAY11_MONEY:
        return f"{currency} {value:,.2f}"
    if kpi in DAY11_PERCENT:
        return f"{value * 100:.2f}%"
    if kpi == "roas":
        return f"{value:.2f}x"
    return f"{value:,.0f}"


def day11_format_change(change: Decimal | None) -> str:
    if change is None:
        return "n/a"
    arrow = "▲" if change > 0 else "▼" if change < 0 else "►"
    return f"{arrow} {change * 100:+.1f}%"


def day11_cut(text: str, limit: int) -> str:
    """At most `limit` code points (never half a surrogate pair, never half an `&amp;`), ending in … when cut.
    The n8n export's `cut` is the same rule; tests/test_day11_report.py runs both on the same strings."""
    if len(text) <= limit:
        return text
    return re.sub(r"&[a-z]{0,3}\Z", "", text[:limit - 1]) + "…"


DAY11_NOT_IN_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def day11_one_line(value) -> str:
    """A value as one line of plain text: control characters, line separators and bidi marks/overrides become
    spaces, so a name cannot start a line of its own or reverse the figures that follow it."""
    return DAY11_NOT_IN_A_LINE.sub(" ", str(value))


def day11_mrkdwn(value) -> str:
    """A value as mrkdwn shows it literally, on its line: Slack's three control characters escaped."""
    return day11_one_line(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")



def day11_kpi_fields(report: day11_Report) -> list[str]:
    return [f"*{DAY11_LABELS[k]}*\n{day11_format(k, report.today[k], report.currency)}  "
            f"({day11_format_change(report.change[k])} vs {day11_format(k, report.before[k], report.currency)})"
            for k in DAY11_LABELS]


def day11_blocks(report: day11_Report) -> list[dict]:
    fields = [{"type": "mrkdwn", "text": day11_cut(f, DAY11_MAX_FIELD_TEXT)} for f in day11_kpi_fields(report)]
    blocks = [{"type": "header", "text": {"type": "plain_text", "emoji": True,
                                          "text": f"Retail performance · {report.report_date:%a %d %b %Y}"}}]
    for start in range(0, len(fields), DAY11_MAX_FIELDS):  # Slack allows 10 fields per section
        blocks.append({"type": "section", "fields": fields[start:start + DAY11_MAX_FIELDS]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                   f"Google Ads ({report.campaigns_reported} campaigns) + GA4 · changes vs "
                   f"{report.report_date - timedelta(days=1):%a %d %b} · money in {report.currency}"}]})
    blocks.append({"type": "divider"})
    for title, rows in (("Top 3 campaigns by ROAS", report.top), ("Bottom 3 campaigns by ROAS", report.bottom)):
        lines = [f"• {day11_cut(day11_mrkdwn(name), DAY11_MAX_NAME)}: {roas:.2f}x on {report.currency} {spend:,.2f}"
                 for name, roas, spend in rows] or ["• none"]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n" + "\n".join(lines)}})
    flags = [f":warning: {day11_mrkdwn(a)}" for a in report.anomalies] or [":white_check_mark: No anomalies against the thresholds"]
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Anomaly flags*\n" + "\n".join(flags)}})
    return day11_enforce_limits(blocks)


def day11_enforce_limits(blocks: list[dict]) -> list[dict]:
    """Trim to Slack's limits, on purpose and visibly (never let Slack reject the whole message)."""
    for block in blocks:
        if block["type"] == "header":
            block["text"]["text"] = day11_cut(block["text"]["text"], DAY11_MAX_HEADER_TEXT)
        if block["type"] == "section" and "text" in block:
            block["text"]["text"] = day11_cut(block["text"]["text"], DAY11_MAX_SECTION_TEXT)
        if block["type"] == "section" and "fields" in block:
            block["fields"] = [dict(f, text=day11_cut(f["text"], DAY11_MAX_FIELD_TEXT)) for f in block["fields"][:DAY11_MAX_FIELDS]]
    if len(blocks) > DAY11_MAX_BLOCKS:
        dropped = len(blocks) - DAY11_MAX_BLOCKS + 1
        blocks = blocks[:DAY11_MAX_BLOCKS - 1] + [{"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"{dropped} more block(s) omitted to fit Slack's 50-block limit"}]}]
    return blocks


def day11_violations(blocks: list[dict]) -> list[str]:
    """What Slack would reject; empty when the message is within every limit."""
    problems = []
    if len(blocks) > DAY11_MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks (max {DAY11_MAX_BLOCKS})")
    for n, block in enumerate(blocks):
        if block["type"] == "header" and len(block["text"]["text"]) > DAY11_MAX_HEADER_TEXT:
            problems.append(f"block {n}: header over {DAY11_MAX_HEADER_TEXT} chars")
        if block["type"] == "section" and len(block.get("text", {}).get("text", "")) > DAY11_MAX_SECTION_TEXT:
            problems.append(f"block {n}: section text over {DAY11_MAX_SECTION_TEXT} chars")
        if block["type"] == "section" and len(block.get("fields", [])) > DAY11_MAX_FIELDS:
            problems.append(f"block {n}: {len(block['fields'])} fields (max {DAY11_MAX_FIELDS})")
    return problems


def day11_payload(report: day11_Report) -> dict:
    blocks = day11_blocks(report)
    return {"text": f"Retail performance {report.report_date}: spend {day11_format('spend', report.today['spend'], report.currency)}, "
                    f"ROAS {day11_format('roas', report.today['roas'], report.currency)}", "blocks": blocks}


def day11_email_html(report: day11_Report) -> str:
    from html import escape

    rows = "".join(f"<tr><td>{DAY11_LABELS[k]}</td><td align='right'>{escape(day11_format(k, report.today[k], report.currency))}</td>"
                   f"<td align='right'>{escape(day11_format(k, report.before[k], report.currency))}</td>"
                   f"<td align='right'>{escape(day11_format_change(report.change[k]))}</td></tr>" for k in DAY11_LABELS)
    flags = "".join(f"<li>{escape(a)}</li>" for a in report.anomalies) or "<li>No anomalies against the thresholds</li>"
    top = "".join(f"<li>{escape(day11_one_line(n))}: {r:.2f}x</li>" for n, r, _ in report.top)
    bottom = "".join(f"<li>{escape(day11_one_line(n))}: {r:.2f}x</li>" for n, r, _ in report.bottom)
    return (f"<html><body style='font-family:Arial,sans-serif'><h2>Retail performance · {report.report_date:%a %d %b %Y}</h2>"
            f"<table cellpadding='6' style='border-collapse:collapse'><tr><th align='left'>KPI</th><th>Report day</th>"
            f"<th>Day before</th><th>Change</th></tr>{rows}</table><h3>Anomaly flags</h3><ul>{flags}</ul>"
            f"<h3>Top 3 by ROAS</h3><ul>{top}</ul><h3>Bottom 3 by ROAS</h3><ul>{bottom}</ul>"
            f"<p style='color:#666'>Money in {escape(report.currency)}; rounded for display only.</p></body></html>")
