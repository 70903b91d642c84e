"""Turn KPI results into the e-mail's parts: inlined HTML, plain text, a PNG chart and a CSV table.

The chart is a PNG referenced by Content-ID (Gmail and Outlook drop SVG and data: URIs), its alt text
states the same numbers as the table, and status is written in words as well as colour.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from day14_KPI_definitions import day14_KpiResult

DAY14_TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
DAY14_HTML_TEMPLATE = "day14_email_template.html"
DAY14_TEXT_TEMPLATE = "day14_email_template.txt"
DAY14_CHART_UNITS = ("%",)  # the chart compares like with like: percentage KPIs against their targets
DAY14_STATUS_COLOURS = {"met": "#2e7d32", "at risk": "#f0a500", "missed": "#c62828", "no data": "#90a4ae"}
DAY14_CSV_COLUMNS = ("kpi", "label", "unit", "yesterday", "month_to_date", "prior_7_days", "target",
                     "direction", "at_risk_margin", "status", "trend", "note", "source")


@dataclass(frozen=True)
class day14_RenderedReport:
    subject: str
    html: str
    text: str
    chart_png: bytes
    chart_cid: str
    chart_alt: str
    csv_bytes: bytes
    csv_filename: str
    missed: tuple[str, ...]
    at_risk: tuple[str, ...]
    no_data: tuple[str, ...] = ()  # KPIs without a month-to-date value: never counted as on target
    missing_inputs: tuple[str, ...] = ()


def day14_format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "no failures"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "% change":
        return f"{value:+.1f}%"
    if unit == "km":
        return f"{value:,.0f} km"
    return f"{value:,.1f}"  # a rate: the label names its unit


def day14_format_target(result: day14_KpiResult) -> str:
    sign = "≥" if result.direction == "higher" else "≤"
    return f"{sign}\u00a0{day14_format_value(result.target, result.unit)}"  # no break after the sign


def day14_format_trend(result: day14_KpiResult) -> str:
    if not result.trend:
        return ""
    if result.trend == "steady":
        return "► steady"
    delta = result.trend_delta
    if result.unit in ("%", "% change"):
        amount = f"{delta:+.1f} pts"
    elif result.unit == "km":
        amount = f"{delta:+,.0f} km"
    else:
        amount = f"{delta:+,.1f}"
    return f"{'▲' if delta > 0 else '▼'} {amount}, {result.trend}"


def _row(result: day14_KpiResult) -> dict:
    return {
        "label": result.label, "note": result.note,
        "yesterday": day14_format_value(result.yesterday, result.unit),
        "month_to_date": day14_format_value(result.month_to_date, result.unit),
        "target": day14_format_target(result),
        "status_label": result.status.upper(), "status_class": "status-" + result.status.replace(" ", "-"),
        "trend": day14_format_trend(result),
    }


def day14_headline(results: list[day14_KpiResult]) -> str:
    """Counts every status; a KPI without data is named as such, never folded into 'on target'."""
    counts = {status: sum(r.status == status for r in results) for status in ("missed", "at risk", "no data", "met")}
    if counts["met"] == len(results):
        return f"All {len(results)} KPIs are on target month-to-date."
    parts = [f"{counts['missed']} missed" if counts["missed"] else "",
             f"{counts['at risk']} at risk" if counts["at risk"] else "",
             f"{counts['met']} on target" if counts["met"] else "",
             f"{counts['no data']} have no data" if counts["no data"] else ""]
    parts = [p for p in parts if p]
    listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    return f"Of {len(results)} KPIs month-to-date, {listed}."


def day14_subject(results: list[day14_KpiResult], report_date: date) -> str:
    counts = {status: sum(r.status == status for r in results) for status in ("missed", "at risk", "no data")}
    parts = [f"{n} {status}" for status, n in counts.items() if n]
    return f"Transport KPIs {report_date:%a %d %b %Y}: " + (", ".join(parts) or "all on target")


def day14_chart_alt(results: list[day14_KpiResult]) -> str:
    shown = [r for r in results if r.unit in DAY14_CHART_UNITS]
    return "Month-to-date against target: " + "; ".join(
        f"{r.label} {day14_format_value(r.month_to_date, r.unit)} (target {day14_format_target(r)}, {r.status})"
        for r in shown) + "."


def day14_chart_png(results: list[day14_KpiResult]) -> bytes:
    """Horizontal bars of month-to-date values coloured by status, with the target marked on each."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a server
    from matplotlib import pyplot as plt

    shown = [r for r in results if r.unit in DAY14_CHART_UNITS][::-1]
    fig, ax = plt.subplots(figsize=(5.52, 0.42 * len(shown) + 0.9), dpi=200)
    try:
        values = [r.month_to_date or 0.0 for r in shown]
        ax.barh([r.label for r in shown], values, color=[DAY14_STATUS_COLOURS[r.status] for r in shown], height=0.6)
        for y, r in enumerate(shown):
            ax.plot([r.target, r.target], [y - 0.4, y + 0.4], color="#1f2933", linewidth=1.6)
            ax.text(min(values[y], 100) - 1, y, f"{day14_format_value(r.month_to_date, r.unit)} ({r.status})",
                    va="center", ha="right", fontsize=7, color="white", fontweight="bold")
        ax.set_xlim(min([50.0] + [v - 5 for v in values]), 100)
        ax.set_xlabel("Month to date, % (black line: target)", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", metadata={"Software": None})
        return buffer.getvalue()
    finally:
        plt.close(fig)


def day14_csv(results: list[day14_KpiResult]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180, what spreadsheet tools expect
    writer.writerow(DAY14_CSV_COLUMNS)
    for r in results:
        writer.writerow([r.key, r.label, r.unit, _raw(r.yesterday), _raw(r.month_to_date), _raw(r.prior_days),
                         r.target, r.direction, r.at_risk_margin, r.status, r.trend, r.note, r.source])
    return buffer.getvalue().encode("utf-8")


def _raw(value: float | None) -> str:
    if value is None:
        return ""
    return "inf" if math.isinf(value) else f"{value:.4f}"


def day14_render_report(results: list[day14_KpiResult], report_date: date, *, network_name: str,
                        generated_at: datetime, missing_inputs: tuple[str, ...] = ()) -> day14_RenderedReport:
    import css_inline
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(DAY14_TEMPLATES_DIR), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    missed = tuple(r.label for r in results if r.status == "missed")
    at_risk = tuple(r.label for r in results if r.status == "at risk")
    no_data = tuple(r.label for r in results if r.status == "no data")
    subject = day14_subject(results, report_date)
    context = {
        "subject": subject, "report_date_long": f"{report_date:%A %d %B %Y}", "month_label": f"{report_date:%B %Y}",
        "network_name": network_name, "headline": day14_headline(results), "missing_inputs": list(missing_inputs),
        "rows": [_row(r) for r in results], "attention": [_row(r) for r in results if r.status in ("missed", "at risk")],
        "chart_cid": f"kpi-chart-{report_date:%Y%m%d}@day14", "chart_alt": day14_chart_alt(results),
        "csv_filename": f"transport_kpis_{report_date:%Y-%m-%d}.csv", "generated_at": f"{generated_at:%Y-%m-%d %H:%M %Z}",
    }
    html = env.get_template(DAY14_HTML_TEMPLATE).render(context)
    inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
    return day14_RenderedReport(
        subject=subject, html=inliner.inline(html), text=env.get_template(DAY14_TEXT_TEMPLATE).render(context),
        chart_png=day14_chart_png(results), chart_cid=context["chart_cid"], chart_alt=context["chart_alt"],
        csv_bytes=day14_csv(results), csv_filename=context["csv_filename"], missed=missed, at_risk=at_risk,
        no_data=no_data, missing_inputs=tuple(missing_inputs),
    )
