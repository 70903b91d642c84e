"""Google Ads searchStream and GA4 runReport shapes, seasonality and anomaly switches."""
import re
from datetime import date

from shared_synthetic_data import retail

END = date(2026, 11, 22)


def _rows(**kwargs):
    return [row for batch in retail.ads_search_stream(end_date=END, **kwargs) for row in batch["results"]]


def test_search_stream_is_an_array_of_batches_with_int64_as_strings():
    stream = retail.ads_search_stream(size=5, days=4, rows_per_batch=7, end_date=END)
    assert [len(b["results"]) for b in stream] == [7, 7, 6]
    for batch in stream:
        assert batch["fieldMask"].split(",")[0] == "campaign.resourceName"
        for row in batch["results"]:
            assert set(row) == {"campaign", "segments", "metrics"}
            assert re.fullmatch(r"customers/\d+/campaigns/\d+", row["campaign"]["resourceName"])
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["segments"]["date"])
            for key in ("costMicros", "impressions", "clicks"):
                assert isinstance(row["metrics"][key], str) and row["metrics"][key].isdigit()
            assert isinstance(row["metrics"]["conversions"], float)
            assert isinstance(row["metrics"]["conversionsValue"], float)


def test_ga4_report_has_headers_and_string_values_with_compact_dates():
    report = retail.ga4_run_report(end_date=END)
    assert [h["name"] for h in report["dimensionHeaders"]] == ["date", "sessionDefaultChannelGroup"]
    assert [h["name"] for h in report["metricHeaders"]] == ["sessions", "totalUsers", "conversions", "totalRevenue"]
    assert report["rowCount"] == len(report["rows"]) == retail.DEFAULT_DAYS * len(retail.GA4_CHANNEL_SHARE)
    for row in report["rows"]:
        assert re.fullmatch(r"\d{8}", row["dimensionValues"][0]["value"])
        assert all(isinstance(v["value"], str) for v in row["metricValues"])


def test_weekends_sell_more_than_mondays():
    by_weekday = {}
    for row in _rows():
        day = date.fromisoformat(row["segments"]["date"]).weekday()
        by_weekday[day] = by_weekday.get(day, 0) + int(row["metrics"]["impressions"])
    assert by_weekday[5] > by_weekday[0] * 1.1


def _day_totals(rows, day):
    picked = [r["metrics"] for r in rows if r["segments"]["date"] == day]
    cost = sum(int(m["costMicros"]) for m in picked) / 1e6
    return cost, sum(m["conversionsValue"] for m in picked)


def test_roas_drop_and_spend_spike_change_only_the_report_day():
    clean, dropped, spiked = _rows(), _rows(defects=["roas_drop"]), _rows(defects=["spend_spike"])
    c_cost, c_value = _day_totals(clean, "2026-11-22")
    _, d_value = _day_totals(dropped, "2026-11-22")
    s_cost, _ = _day_totals(spiked, "2026-11-22")
    assert abs(d_value / c_value - retail.ROAS_DROP_FACTOR) < 0.01
    assert abs(s_cost / c_cost - retail.SPEND_SPIKE_FACTOR) < 0.01
    assert _day_totals(clean, "2026-11-21") == _day_totals(dropped, "2026-11-21")


def test_missing_day_removes_the_report_day_from_both_sources():
    dataset = retail.generate(defects="missing_day", end_date=END)
    assert "2026-11-22" not in {r["segments"]["date"] for r in _rows(defects=["missing_day"])}
    assert "20261122" not in dataset.text("retail/ga4_run_report.json")
    assert dataset.injected == {"missing_day": ["2026-11-22"]}
