"""Google Ads `googleAds:searchStream` and GA4 Data API `runReport`, over HTTP, parsed into day totals.

The same requests go to the real APIs (base URLs, OAuth from day11_AUTH_google, developer token and
login-customer-id from config) or to the local stand-in (day11_STANDIN_servers.py). Every value is
checked before it is used: a stream cut short by an `error` batch, a null or non-numeric metric, a
fractional count or a `(not set)` date stops the run with a day11_SourceError naming the source, the
field and the row (no value is echoed: values are data). GA4 is read page by page (limit/offset) until
`rowCount` rows have arrived.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

DAY11_GA4_API_VERSION = "v1beta"  # the Data API's current surface (runReport); v1alpha adds nothing needed here
DAY11_ADS_QUERY = ("SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.impressions, "
                   "metrics.clicks, metrics.conversions, metrics.conversions_value FROM campaign "
                   "WHERE segments.date BETWEEN '{start}' AND '{end}'")
DAY11_GA4_METRICS = ("sessions", "totalUsers", "keyEvents", "totalRevenue")  # keyEvents: GA4's name since 2024
DAY11_GA4_MAX_PAGES = 1000  # a bound on paging: a report that never reaches rowCount is refused, not looped on
DAY11_MAX_RESPONSE_BYTES = 256 * 1024 * 1024  # a full 250,000-row runReport page is far below; a larger answer is refused, not loaded
DAY11_HTTP_TIMEOUT_S = 30


class day11_SourceError(RuntimeError):
    """A source answered with something we cannot use; the message names the source and, for data, field and row."""


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
    conversions: int  # GA4 key events
    revenue: Decimal


class day11_NoAuth:
    """The stand-ins need no token."""

    def headers(self) -> dict:
        return {}

    def refresh(self) -> bool:
        return False


def _post(session, source: str, url: str, payload: dict, auth, headers: dict):
    import requests

    from day11_HTTP_client import day11_network_reason, day11_read_body

    for attempt in (1, 2):
        try:
            response = session.post(url, json=payload, headers={**headers, **auth.headers()}, timeout=DAY11_HTTP_TIMEOUT_S,
                                     allow_redirects=False, stream=True)  # Google's APIs do not redirect; a redirect is a fault
            body = day11_read_body(response, DAY11_MAX_RESPONSE_BYTES)
        except requests.RequestException as exc:
            raise day11_SourceError(f"{source}: {day11_network_reason(exc)}") from None
        if body is None:
            raise day11_SourceError(f"{source}: the answer is larger than {DAY11_MAX_RESPONSE_BYTES} bytes")
        if response.status_code == 401 and attempt == 1 and auth.refresh():
            continue  # the access token was revoked or expired early: one fresh token, one more try
        if response.status_code >= 300:
            raise day11_SourceError(f"{source}: HTTP {response.status_code} {_google_error(body)}")
        try:
            return json.loads(body)
        except ValueError:
            raise day11_SourceError(f"{source}: the answer is not JSON") from None
    raise AssertionError("unreachable")


def _google_error(body: bytes) -> str:
    try:
        error = json.loads(body).get("error", {})
        return f"{error.get('status', '')} {str(error.get('message', ''))[:200]}".strip()
    except (ValueError, AttributeError):
        return body.decode("utf-8", "replace").strip()[:200]


class _Rows:
    """Field checks with the source and row in every message."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, row: int, field: str, problem: str):
        raise day11_SourceError(f"{self.source}: row {row}, field {field}: {problem}")

    def value(self, row: int, field: str, value):
        if value is None:
            self.fail(row, field, "missing or null")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(row, field, f"expected a number, got {type(value).__name__}")
        if isinstance(value, str) and value.strip() == "(not set)":
            self.fail(row, field, "(not set)")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            self.fail(row, field, "not a number")
        if not number.is_finite():
            self.fail(row, field, "not a finite number")
        return number

    def count(self, row: int, field: str, value) -> int:
        number = self.value(row, field, value)
        if number != number.to_integral_value():
            self.fail(row, field, "a fractional count")
        if number < 0:
            self.fail(row, field, "a negative count")
        return int(number)

    def amount(self, row: int, field: str, value, *, signed: bool = False) -> Decimal:
        number = self.value(row, field, value)
        if number < 0 and not signed:
            self.fail(row, field, "a negative amount")
        return number

    def day(self, row: int, field: str, value, fmt: str) -> date:
        if not isinstance(value, str) or value.strip() == "(not set)":
            self.fail(row, field, "(not set)" if isinstance(value, str) else "missing or null")
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            self.fail(row, field, f"not a date ({'YYYY-MM-DD' if fmt == '%Y-%m-%d' else 'YYYYMMDD'})")

    def text(self, row: int, field: str, value) -> str:
        if not isinstance(value, str) or not value.strip() or value.strip() == "(not set)":
            self.fail(row, field, "(not set)" if value == "(not set)" else "missing or empty")
        return value


def day11_ads_url(base_url: str, version: str, customer_id: str) -> str:
    return f"{base_url.rstrip('/')}/{version}/customers/{customer_id}/googleAds:searchStream"


def day11_fetch_ads(session, base_url: str, customer_id: str, start: date, end: date, *, version: str, auth=None,
                    headers: dict | None = None) -> list[day11_CampaignDay]:
    source = "Google Ads searchStream"
    batches = _post(session, source, day11_ads_url(base_url, version, customer_id),
                    {"query": DAY11_ADS_QUERY.format(start=start, end=end)}, auth or day11_NoAuth(), headers or {})
    if not isinstance(batches, list):
        raise day11_SourceError(f"{source}: expected an array of batches")
    check, rows, n = _Rows(source), [], 0
    for number, batch in enumerate(batches, 1):
        if not isinstance(batch, dict):
            raise day11_SourceError(f"{source}: batch {number} is not an object")
        if "error" in batch:  # a stream that failed part-way ends with an error object: the rows so far are partial
            error = batch["error"] if isinstance(batch["error"], dict) else {}
            raise day11_SourceError(f"{source}: the stream ended in an error after {n} rows "
                                    f"({error.get('code', '?')} {error.get('status', '')}".rstrip() + ")")
        for row in batch.get("results") or []:
            n += 1
            rows.append(_campaign_day(check, n, row))
    return rows


def _campaign_day(check: _Rows, n: int, row) -> day11_CampaignDay:
    if not isinstance(row, dict):
        check.fail(n, "(row)", "not an object")
    campaign, segments, metrics = (row.get(k) for k in ("campaign", "segments", "metrics"))
    for name, part in (("campaign", campaign), ("segments", segments), ("metrics", metrics)):
        if not isinstance(part, dict):
            check.fail(n, name, "missing or null")
    campaign_id = campaign.get("id")
    if not (isinstance(campaign_id, str) and re.fullmatch(r"\d{1,20}", campaign_id)):
        check.fail(n, "campaign.id", "missing or not an id")
    # proto3 JSON leaves out zero values, so an absent metric key is 0; a null one is not
    value = {k: metrics[k] if k in metrics else "0" for k in ("costMicros", "impressions", "clicks", "conversions",
                                                               "conversionsValue")}
    return day11_CampaignDay(
        day=check.day(n, "segments.date", segments.get("date"), "%Y-%m-%d"), campaign_id=campaign_id,
        campaign=check.text(n, "campaign.name", campaign.get("name")),
        spend=Decimal(check.count(n, "metrics.costMicros", value["costMicros"])) / 1_000_000,
        impressions=check.count(n, "metrics.impressions", value["impressions"]),
        clicks=check.count(n, "metrics.clicks", value["clicks"]),
        conversions=check.amount(n, "metrics.conversions", value["conversions"]),  # attributed: may be fractional
        revenue=check.amount(n, "metrics.conversionsValue", value["conversionsValue"]))


def day11_ga4_url(base_url: str, property_id: str) -> str:
    return f"{base_url.rstrip('/')}/{DAY11_GA4_API_VERSION}/properties/{property_id}:runReport"


def day11_fetch_ga4(session, base_url: str, property_id: str, start: date, end: date, *, auth=None,
                    page_size: int = 10_000, headers: dict | None = None) -> list[day11_SiteDay]:
    source = "GA4 runReport"
    url = day11_ga4_url(base_url, property_id)
    check, totals = _Rows(source), defaultdict(lambda: defaultdict(Decimal))
    offset, expected = 0, None
    for _page in range(DAY11_GA4_MAX_PAGES):
        payload = {"dateRanges": [{"startDate": start.isoformat(), "endDate": end.isoformat()}],
                   "dimensions": [{"name": "date"}, {"name": "sessionDefaultChannelGroup"}],
                   "metrics": [{"name": n} for n in DAY11_GA4_METRICS], "limit": str(page_size), "offset": str(offset)}
        report = _post(session, source, url, payload, auth or day11_NoAuth(), headers or {})
        if not isinstance(report, dict):
            raise day11_SourceError(f"{source}: expected a report object")
        names = [h.get("name") for h in report.get("metricHeaders") or [] if isinstance(h, dict)]
        if names != list(DAY11_GA4_METRICS) and (report.get("rows") or offset == 0 and report.get("rowCount")):
            raise day11_SourceError(f"{source}: metric headers {names}, expected {list(DAY11_GA4_METRICS)}")
        row_count = report.get("rowCount", 0)  # GA4 leaves rowCount out of an empty report
        if isinstance(row_count, bool) or not isinstance(row_count, int) or row_count < 0:
            raise day11_SourceError(f"{source}: rowCount is not a row count")
        if expected is not None and row_count != expected:
            raise day11_SourceError(f"{source}: rowCount changed between pages ({expected} then {row_count})")
        expected, rows = row_count, report.get("rows") or []
        for index, row in enumerate(rows, offset + 1):
            _add_site_row(check, index, row, totals)
        offset += len(rows)
        if offset >= expected:
            break
        if not rows:
            raise day11_SourceError(f"{source}: {offset} of {expected} rows arrived, then an empty page")
    else:
        raise day11_SourceError(f"{source}: more than {DAY11_GA4_MAX_PAGES} pages")
    return [day11_SiteDay(day, int(t["sessions"]), int(t["totalUsers"]), int(t["keyEvents"]), t["totalRevenue"])
            for day, t in sorted(totals.items())]


def _add_site_row(check: _Rows, n: int, row, totals) -> None:
    if not isinstance(row, dict):
        check.fail(n, "(row)", "not an object")
    dimensions, metrics = row.get("dimensionValues"), row.get("metricValues")
    if not isinstance(dimensions, list) or not dimensions or not isinstance(dimensions[0], dict):
        check.fail(n, "date", "missing or null")
    if not isinstance(metrics, list) or len(metrics) != len(DAY11_GA4_METRICS):
        check.fail(n, "metricValues", f"expected {len(DAY11_GA4_METRICS)} values")
    day = check.day(n, "date", dimensions[0].get("value"), "%Y%m%d")
    for name, cell in zip(DAY11_GA4_METRICS, metrics):  # GA4 sends every value as a string
        raw = cell.get("value") if isinstance(cell, dict) else None
        if name == "totalRevenue":
            totals[day][name] += check.amount(n, name, raw, signed=True)  # refunds can make a day's revenue negative
        else:
            totals[day][name] += check.count(n, name, raw)
