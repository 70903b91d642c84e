"""Every expectation passes on clean data and catches what its defect plants: not too loose, not too strict."""
import pytest

from day12_SUITES_security import day12_event_expectations, day12_vuln_expectations

EVENTS = [e.description for e in day12_event_expectations()]
VULNS = [e.description for e in day12_vuln_expectations()]


def _failed(result):
    return sorted(f["description"] for f in result.failed_expectations)


def test_every_expectation_has_a_description_a_severity_and_a_security_reason():
    for expectation in day12_event_expectations() + day12_vuln_expectations():
        assert expectation.description
        assert expectation.meta["severity"] in ("critical", "warning", "info")
        assert len(expectation.meta["reason"]) > 20
    assert len(EVENTS) + len(VULNS) >= 12


@pytest.mark.parametrize("dataset", ["security_events", "vulnerability_scan"])
def test_clean_data_passes_every_expectation(sample, validate, dataset):
    result = validate(sample(dataset), dataset)
    assert result.success and result.max_failed_severity is None and not result.quarantined_ids


@pytest.mark.parametrize(("defect", "caught_by"), [
    ("pii", ["message contains no SSN, card number or e-mail address"]),
    ("invalid_ips", ["src_ip is a valid IPv4 or IPv6 address"]),
    ("duplicates", ["event_id is unique"]),
    ("future_timestamps", ["event_time is not in the future beyond the allowed clock skew",
                           "ingested_at is at or after event_time for at least 99% of events"]),
    ("clock_skew", ["ingested_at is at or after event_time for at least 99% of events"]),
    ("silent_source", ["every expected log source sent a plausible number of events"]),
    ("out_of_range", ["dst_port is between 0 and 65535"]),
    ("bad_categories", ["action is one of the agreed actions", "severity is one of the agreed levels"]),
    ("bad_formats", ["mitre_technique looks like T1234 or T1234.001 when present"]),
])
def test_each_seeded_defect_is_caught_by_its_expectation_and_nothing_else(sample, validate, defect, caught_by):
    assert _failed(validate(sample(defects=[defect]))) == sorted(caught_by)


@pytest.mark.parametrize(("change", "caught_by"), [
    (lambda df: df.drop(columns=["mitre_technique"]), "The export has exactly the agreed columns"),
    (lambda df: df.assign(event_time=df["event_time"].where(df.index % 50 != 0, "yesterday")), "event_time is present and parseable"),
    (lambda df: df.head(50), "row count is within the expected volume"),
    (lambda df: df.drop(df.index[df["source"] == "okta"][3:]), "every expected log source sent a plausible number of events"),
])
def test_schema_time_and_volume_breaks_are_caught(sample, validate, change, caught_by):
    assert caught_by in _failed(validate(change(sample())))


@pytest.mark.parametrize(("defect", "caught_by"), [
    ("out_of_range", "cvss is between 0 and 10"), ("bad_formats", "cve_id follows CVE-YYYY-NNNN+"),
])
def test_vulnerability_defects_are_caught(sample, validate, defect, caught_by):
    assert _failed(validate(sample("vulnerability_scan", [defect]), "vulnerability_scan")) == [caught_by]


def test_the_ip_expectation_knows_ipv6_forms_that_regexes_miss(sample, validate):
    df = sample().head(200)
    df.loc[:2, "src_ip"] = ["::1", "2001:db8::8a2e:370:7334", "::ffff:192.0.2.128"]
    assert "src_ip is a valid IPv4 or IPv6 address" not in _failed(validate(df))
    df.loc[3, "src_ip"] = "192.168.001.300"
    assert "src_ip is a valid IPv4 or IPv6 address" in _failed(validate(df))


def test_the_gate_stops_dirty_data_in_a_tiny_pipeline(sample, validate):
    delivered = []

    def pipeline(df):
        result = validate(df)
        if result.max_failed_severity == "critical":
            return f"stopped: {len(result.quarantined_ids)} rows quarantined"
        delivered.append(len(df))
        return "delivered"

    assert pipeline(sample()) == "delivered"
    assert pipeline(sample(defects=["pii"])).startswith("stopped: 40 rows")
    assert delivered == [2_000]


def test_source_volume_bounds_name_the_source_and_its_count(sample):
    """Bounds come from settings at run time: a source above the ceiling fails too, and the result shows the counts."""
    from datetime import datetime, timezone

    from day12_CONFIG_settings import day12_load_settings
    from day12_GATE_validation import day12_context, day12_validate_dataframe

    df = sample()
    tight = day12_load_settings(env_file=None, max_rows_per_source=400)
    result = day12_validate_dataframe(df, settings=tight, now=datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc),
                                      context=day12_context(None))
    assert [f["description"] for f in result.failed_expectations] == ["every expected log source sent a plausible number of events"]
    (failed,) = result.failed_expectations
    counts = df["source"].value_counts()
    assert failed["severity"] == "critical"
    assert failed["observed_value"] == {source: int(counts[source]) for source in failed["observed_value"]}
    assert any(n > 400 for n in failed["observed_value"].values())
