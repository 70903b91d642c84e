"""Retail marketing: Google Ads ``googleAds:searchStream`` and GA4 Data API ``runReport`` responses.

Shapes follow the REST APIs: camelCase keys; Google Ads int64 fields (ids, costMicros, impressions,
clicks) as strings; a search stream is a JSON array of batches; GA4 values are all strings and dates
are ``YYYYMMDD``. Traffic follows a weekday pattern (retail peaks at the weekend).
"""
from __future__ import annotations

import random
from datetime import date, timedelta

from shared_synthetic_data._common import (
    DEFAULT_END_DATE, DEFAULT_SEED, Dataset, check_size, json_bytes, parse_defects,
)

DEFECTS = ("roas_drop", "spend_spike", "missing_day")
DEFAULT_SIZE = 12  # campaigns
DEFAULT_DAYS = 14  # two weeks: the report day, the day before and a weekly baseline
CUSTOMER_ID = "1234567890"
CURRENCY = "USD"
WEEKDAY_FACTOR = (0.92, 0.95, 0.97, 1.0, 1.06, 1.14, 1.08)  # Monday .. Sunday
ROAS_DROP_FACTOR = 0.55  # conversion value on the report day under the roas_drop defect
SPEND_SPIKE_FACTOR = 1.6  # cost on the report day under the spend_spike defect
ADS_FIELD_MASK = ",".join((
    "campaign.resourceName", "campaign.id", "campaign.name", "segments.date", "metrics.costMicros",
    "metrics.impressions", "metrics.clicks", "metrics.conversions", "metrics.conversionsValue",
))
GA4_CHANNEL_SHARE = (
    ("Paid Search", 0.34), ("Organic Search", 0.28), ("Direct", 0.16),
    ("Paid Social", 0.10), ("Email", 0.07), ("Referral", 0.05),
)
_PRODUCT_LINES = ("Brand", "Winter Coats", "Sneakers", "Home Decor", "Kids", "Accessories", "Outdoor", "Beauty")
_CAMPAIGN_KINDS = ("Search", "Shopping", "PMax", "Display")


def _campaigns(rng: random.Random, count: int) -> list[dict]:
    campaigns = []
    for index in range(count):
        line = _PRODUCT_LINES[index % len(_PRODUCT_LINES)]
        kind = _CAMPAIGN_KINDS[(index // len(_PRODUCT_LINES) + index) % len(_CAMPAIGN_KINDS)]
        campaigns.append({
            "id": str(20_000_000_000 + index * 7919 + rng.randrange(1000)),
            "name": f"{line} | {kind} | {index + 1:02d}",
            "impressions": rng.uniform(4_000, 60_000),
            "ctr": rng.uniform(0.01, 0.07),
            "cpc": rng.uniform(0.35, 2.40),
            "cvr": rng.uniform(0.01, 0.06),
            "aov": rng.uniform(35, 180),
        })
    return campaigns


def _report_days(end_date: date, days: int) -> list[date]:
    return [end_date - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def _campaign_day(rng, campaign, day, end_date, defects) -> dict:
    factor = WEEKDAY_FACTOR[day.weekday()] * rng.uniform(0.9, 1.1)
    impressions = int(campaign["impressions"] * factor)
    clicks = int(impressions * campaign["ctr"] * rng.uniform(0.9, 1.1))
    cost = clicks * campaign["cpc"] * rng.uniform(0.9, 1.1)
    conversions = round(clicks * campaign["cvr"] * rng.uniform(0.8, 1.2), 2)
    value = conversions * campaign["aov"] * rng.uniform(0.9, 1.1)
    if day == end_date and "spend_spike" in defects:
        cost *= SPEND_SPIKE_FACTOR
    if day == end_date and "roas_drop" in defects:
        value *= ROAS_DROP_FACTOR
    return {
        "campaign": {
            "resourceName": f"customers/{CUSTOMER_ID}/campaigns/{campaign['id']}",
            "id": campaign["id"],
            "name": campaign["name"],
        },
        "segments": {"date": day.isoformat()},
        "metrics": {
            "costMicros": str(round(cost * 1_000_000)),
            "impressions": str(impressions),
            "clicks": str(clicks),
            "conversions": conversions,
            "conversionsValue": round(value, 2),
        },
    }


def campaign_rows(seed=DEFAULT_SEED, size=DEFAULT_SIZE, defects=(), end_date=DEFAULT_END_DATE,
                  days=DEFAULT_DAYS) -> list[dict]:
    """One searchStream result row per campaign and day, in date order."""
    defects = parse_defects(defects, DEFECTS)
    rng = random.Random(f"retail-ads-{seed}")
    campaigns = _campaigns(rng, check_size(size))
    rows = []
    for day in _report_days(end_date, days):
        for campaign in campaigns:
            row = _campaign_day(rng, campaign, day, end_date, defects)
            if not (day == end_date and "missing_day" in defects):
                rows.append(row)
    return rows


def ads_search_stream(seed=DEFAULT_SEED, size=DEFAULT_SIZE, defects=(), end_date=DEFAULT_END_DATE,
                      days=DEFAULT_DAYS, rows_per_batch=10_000) -> list[dict]:
    """The JSON array ``googleAds:searchStream`` returns: batches of results, each with its field mask."""
    rows = campaign_rows(seed, size, defects, end_date, days)
    chunks = [rows[i:i + rows_per_batch] for i in range(0, len(rows), rows_per_batch)] or [[]]
    request_id = f"synthetic-{seed}-{end_date:%Y%m%d}"
    return [{"results": chunk, "fieldMask": ADS_FIELD_MASK, "requestId": request_id} for chunk in chunks]


def ga4_run_report(seed=DEFAULT_SEED, size=DEFAULT_SIZE, defects=(), end_date=DEFAULT_END_DATE,
                   days=DEFAULT_DAYS) -> dict:
    """A GA4 ``properties/{id}:runReport`` response: date x sessionDefaultChannelGroup."""
    defects = parse_defects(defects, DEFECTS)
    rng = random.Random(f"retail-ga4-{seed}")
    daily_sessions = 900 * check_size(size)
    rows = []
    for day in _report_days(end_date, days):
        if day == end_date and "missing_day" in defects:
            continue
        for channel, share in GA4_CHANNEL_SHARE:
            sessions = int(daily_sessions * share * WEEKDAY_FACTOR[day.weekday()] * rng.uniform(0.9, 1.1))
            users = int(sessions * rng.uniform(0.72, 0.86))
            conversions = int(sessions * rng.uniform(0.015, 0.04))
            revenue = conversions * rng.uniform(45, 140)
            if day == end_date and "roas_drop" in defects and channel == "Paid Search":
                revenue *= ROAS_DROP_FACTOR
            rows.append({
                "dimensionValues": [{"value": f"{day:%Y%m%d}"}, {"value": channel}],
                "metricValues": [{"value": str(sessions)}, {"value": str(users)},
                                 {"value": str(conversions)}, {"value": f"{revenue:.2f}"}],
            })
    return {
        "dimensionHeaders": [{"name": "date"}, {"name": "sessionDefaultChannelGroup"}],
        "metricHeaders": [
            {"name": "sessions", "type": "TYPE_INTEGER"},
            {"name": "totalUsers", "type": "TYPE_INTEGER"},
            {"name": "conversions", "type": "TYPE_INTEGER"},
            {"name": "totalRevenue", "type": "TYPE_CURRENCY"},
        ],
        "rows": rows,
        "rowCount": len(rows),
        "metadata": {"currencyCode": CURRENCY, "timeZone": "Etc/UTC"},
        "kind": "analyticsData#runReport",
    }


def generate(seed=DEFAULT_SEED, size=DEFAULT_SIZE, defects=(), end_date=DEFAULT_END_DATE) -> Dataset:
    defects = parse_defects(defects, DEFECTS)
    stream = ads_search_stream(seed, size, defects, end_date)
    campaign_ids = sorted({row["campaign"]["id"] for batch in stream for row in batch["results"]})
    injected = {name: campaign_ids for name in ("roas_drop", "spend_spike") if name in defects}
    if "missing_day" in defects:
        injected["missing_day"] = [end_date.isoformat()]
    return Dataset(
        domain="retail", seed=seed, size=size, defects=defects,
        files={
            "retail/ads_search_stream.json": json_bytes(stream),
            "retail/ga4_run_report.json": json_bytes(ga4_run_report(seed, size, defects, end_date)),
        },
        injected=injected,
    )
