"""The report's numbers: KPIs for the report date and the day before, their change, the best and
worst campaigns by ROAS, and anomaly flags. Money stays exact (Decimal) and is rounded only for display.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from day11_SOURCES_google import day11_CampaignDay, day11_SiteDay

DAY11_KPIS = ("spend", "impressions", "clicks", "ctr", "cpc", "conversions", "cpa", "revenue", "roas", "sessions",
              "users", "site_conversion_rate")


def _ratio(numerator, denominator) -> Decimal | None:
    return Decimal(numerator) / Decimal(denominator) if denominator else None


def day11_day_kpis(campaigns: list[day11_CampaignDay], site: day11_SiteDay | None) -> dict[str, Decimal | None]:
    spend = sum((c.spend for c in campaigns), Decimal(0))
    impressions = sum(c.impressions for c in campaigns)
    clicks = sum(c.clicks for c in campaigns)
    conversions = sum((c.conversions for c in campaigns), Decimal(0))
    revenue = sum((c.revenue for c in campaigns), Decimal(0))
    return {"spend": spend, "impressions": Decimal(impressions), "clicks": Decimal(clicks),
            "ctr": _ratio(clicks, impressions), "cpc": _ratio(spend, clicks), "conversions": conversions,
            "cpa": _ratio(spend, conversions), "revenue": revenue, "roas": _ratio(revenue, spend),
            "sessions": Decimal(site.sessions) if site else None, "users": Decimal(site.users) if site else None,
            "site_conversion_rate": _ratio(site.conversions, site.sessions) if site else None}


def day11_change(today: Decimal | None, before: Decimal | None) -> Decimal | None:
    """Day-over-day change as a fraction; None when either side is unknown or the base is zero."""
    if today is None or before is None or before == 0:
        return None
    return (today - before) / before


@dataclass(frozen=True)
class day11_Report:
    report_date: date
    currency: str
    today: dict[str, Decimal | None]
    before: dict[str, Decimal | None]
    change: dict[str, Decimal | None]
    top: tuple[tuple[str, Decimal, Decimal], ...]  # (campaign, roas, spend)
    bottom: tuple[tuple[str, Decimal, Decimal], ...]
    anomalies: tuple[str, ...] = field(default=())
    campaigns_reported: int = 0


def day11_build_report(report_date: date, campaigns: list[day11_CampaignDay], site: list[day11_SiteDay], *,
                       currency: str, roas_drop_pct: float, spend_spike_pct: float) -> day11_Report:
    day_before = report_date - timedelta(days=1)
    by_day = {d: [c for c in campaigns if c.day == d] for d in (report_date, day_before)}
    site_by_day = {s.day: s for s in site}
    if not by_day[report_date]:
        raise ValueError(f"no Google Ads data for {report_date}: the report date is not loaded yet")
    today = day11_day_kpis(by_day[report_date], site_by_day.get(report_date))
    before = day11_day_kpis(by_day[day_before], site_by_day.get(day_before))
    change = {k: day11_change(today[k], before[k]) for k in DAY11_KPIS}
    ranked = sorted(((c.campaign, c.revenue / c.spend, c.spend) for c in by_day[report_date] if c.spend > 0),
                    key=lambda item: (item[1], item[0]))
    anomalies = []
    if change["roas"] is not None and change["roas"] < -Decimal(str(roas_drop_pct)) / 100:
        anomalies.append(f"ROAS down {abs(change['roas']) * 100:.1f}% day over day (threshold {roas_drop_pct:g}%)")
    if change["spend"] is not None and change["spend"] > Decimal(str(spend_spike_pct)) / 100:
        anomalies.append(f"Spend up {change['spend'] * 100:.1f}% day over day (threshold {spend_spike_pct:g}%)")
    if site_by_day.get(report_date) is None:
        anomalies.append("GA4 has no data for the report date yet: site KPIs missing")
    return day11_Report(report_date, currency, today, before, change, tuple(reversed(ranked[-3:])), tuple(ranked[:3]),
                        tuple(anomalies), len(by_day[report_date]))
