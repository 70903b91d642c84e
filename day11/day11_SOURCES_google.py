"""Google Ads `googleAds:searchStream` and GA4 Data API `runReport`, over HTTP, parsed into day totals.

The same requests go to the real APIs (base URLs, OAuth bearer, developer token from config) or to
the local stand-in (day11_STANDIN_servers.py) that serves the shared synthetic responses.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

DAY11_ADS_API_VERSION = "v17"
DAY11_GA4_API_VERSION = "v1beta"
DAY11_ADS_QUERY = ("SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.impressions, "
                   "metrics.clicks, metrics.conversions, metrics.conversions_value FROM campaign "
                   "WHERE segments.date BETWEEN '{start}' AND '{end}'")
DAY11_RETRIES = 3


class day11_SourceError(RuntimeError):
    """A source answered with an error we cannot retry away; the message carries its status and text."""


@dataclass(frozen=True)
class day11_CampaignDay:
    day: date
    campaign_id: str
    campaign: str
    spend: Decimal
    impressions: int
    clicks: int
    conversions: Decimal
    revenue: Decimal


@dataclass(frozen=True)
class day11_SiteDay:
    day: date
    sessions: int
    users: int
    conversions: int
    revenue: Decimal


def _post(session, url: str, payload: dict, headers: dict, sleep=time.sleep):
    for attempt in range(1, DAY11_RETRIES + 1):
        response = session.post(url, json=payload, headers=headers, timeout=30)
        if response.status_code < 400:
            return response.json()
        if (response.status_code == 429 or response.status_code >= 500) and attempt < DAY11_RETRIES:
            sleep(float(response.headers.get("Retry-After", 2 ** attempt)))
            continue
        raise day11_SourceError(f"{url}: {response.status_code} {response.text[:300]}")
    raise AssertionError("unreachable")


def day11_fetch_ads(session, base_url: str, customer_id: str, start: date, end: date, headers: dict) -> list[day11_CampaignDay]:
    url = f"{base_url.rstrip('/')}/{DAY11_ADS_API_VERSION}/customers/{customer_id}/googleAds:searchStream"
    batches = _post(session, url, {"query": DAY11_ADS_QUERY.format(start=start, end=end)}, headers)
    rows = []
    for batch in batches:  # a stream is an array of batches
        for row in batch.get("results", []):
            metrics = row["metrics"]
            rows.append(day11_CampaignDay(
                day=date.fromisoformat(row["segments"]["date"]), campaign_id=row["campaign"]["id"],
                campaign=row["campaign"]["name"], spend=Decimal(metrics.get("costMicros", "0")) / 1_000_000,
                impressions=int(metrics.get("impressions", "0")), clicks=int(metrics.get("clicks", "0")),
                conversions=Decimal(str(metrics.get("conversions", 0))), revenue=Decimal(str(metrics.get("conversionsValue", 0)))))
    return rows


def day11_fetch_ga4(session, base_url: str, property_id: str, start: date, end: date, headers: dict) -> list[day11_SiteDay]:
    url = f"{base_url.rstrip('/')}/{DAY11_GA4_API_VERSION}/properties/{property_id}:runReport"
    payload = {"dateRanges": [{"startDate": start.isoformat(), "endDate": end.isoformat()}],
               "dimensions": [{"name": "date"}, {"name": "sessionDefaultChannelGroup"}],
               "metrics": [{"name": n} for n in ("sessions", "totalUsers", "conversions", "totalRevenue")]}
    report = _post(session, url, payload, headers)
    names = [h["name"] for h in report.get("metricHeaders", [])]
    totals: dict[date, dict] = defaultdict(lambda: defaultdict(Decimal))
    for row in report.get("rows", []):
        day = datetime.strptime(row["dimensionValues"][0]["value"], "%Y%m%d").date()
        for name, value in zip(names, row["metricValues"]):  # GA4 sends every value as a string
            totals[day][name] += Decimal(value["value"])
    return [day11_SiteDay(day, int(t["sessions"]), int(t["totalUsers"]), int(t["conversions"]), t["totalRevenue"])
            for day, t in sorted(totals.items())]
