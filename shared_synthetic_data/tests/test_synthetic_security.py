"""Security events are clean by default; each defect breaks exactly what it names, on its own rows."""
import csv
import io
import ipaddress
import re
from datetime import datetime, timedelta

import pytest

from shared_synthetic_data import security

PII = re.compile(r"\b\d{3}-\d{2}-\d{4}\b|\b(?:\d[ -]?){13,19}\b|[\w.+-]+@[\w-]+\.[\w.]+")
MITRE = re.compile(r"T\d{4}(\.\d{3})?")
CVE = re.compile(r"CVE-\d{4}-\d{4,}")
END = datetime(2026, 11, 22, 23, 59, 59)


def _read(dataset, name):
    return list(csv.DictReader(io.StringIO(dataset.text(f"security/{name}.csv"))))


def _ts(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def _valid_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


CHECKS = {  # defect -> predicate that is True for a *broken* event row
    "pii": lambda r: bool(PII.search(r["message"])),
    "invalid_ips": lambda r: not _valid_ip(r["src_ip"]),
    "future_timestamps": lambda r: _ts(r["event_time"]) > END,
    "late_arrival": lambda r: _ts(r["ingested_at"]) - _ts(r["event_time"]) > timedelta(hours=1),
    "clock_skew": lambda r: _ts(r["ingested_at"]) < _ts(r["event_time"]),
    "out_of_range": lambda r: not 0 <= int(r["dst_port"]) <= 65535,
    "bad_categories": lambda r: r["severity"] not in security.SEVERITIES or r["action"] not in security.ACTIONS,
    "bad_formats": lambda r: bool(r["mitre_technique"]) and not MITRE.fullmatch(r["mitre_technique"]),
}


@pytest.fixture(scope="module")
def clean():
    return security.generate(size=2000)


def test_clean_events_have_the_schema_and_pass_every_check(clean):
    rows = _read(clean, "security_events")
    assert tuple(rows[0]) == security.EVENT_COLUMNS
    assert len(rows) == 2000 == len({r["event_id"] for r in rows})
    assert {r["source"] for r in rows} == set(security.SOURCES)
    assert any(":" in r["src_ip"] for r in rows) and any("." in r["src_ip"] for r in rows)  # v4 and v6
    for name, broken in CHECKS.items():
        assert not [r["event_id"] for r in rows if broken(r)], name


def test_clean_findings_have_valid_cves_and_scores(clean):
    rows = _read(clean, "vulnerability_scan")
    assert tuple(rows[0]) == security.VULN_COLUMNS
    assert all(CVE.fullmatch(r["cve_id"]) and 0 <= float(r["cvss"]) <= 10 for r in rows)


@pytest.mark.parametrize("defect", sorted(CHECKS))
def test_each_defect_breaks_exactly_its_rows(defect):
    dataset = security.generate(size=2000, defects=[defect])
    rows = _read(dataset, "security_events")
    broken = sorted(r["event_id"] for r in rows if CHECKS[defect](r))
    assert broken == dataset.injected[defect]
    assert len(broken) == round(2000 * security.DEFECT_SHARE)
    other_checks = [c for name, c in CHECKS.items() if name != defect and not (defect == "future_timestamps" and name == "clock_skew")]
    assert not [r for r in rows if any(check(r) for check in other_checks)]


def test_pii_plants_ssn_card_and_email():
    rows = _read(security.generate(size=600, defects="pii"), "security_events")
    notes = " ".join(r["message"] for r in rows if "note=" in r["message"])
    assert re.search(r"ssn \d{3}-\d{2}-\d{4}", notes)
    assert re.search(r"card 4\d{3} \d{4} \d{4} \d{4}", notes)
    assert re.search(r"@example\.com", notes)


def test_duplicates_repeat_whole_rows():
    dataset = security.generate(size=1000, defects="duplicates")
    rows = _read(dataset, "security_events")
    ids = [r["event_id"] for r in rows]
    assert sorted({i for i in ids if ids.count(i) > 1}) == dataset.injected["duplicates"]
    assert len(rows) == 1000 + len(dataset.injected["duplicates"])


def test_silent_source_sends_nothing():
    rows = _read(security.generate(size=1000, defects="silent_source"), "security_events")
    assert security.SILENT_SOURCE not in {r["source"] for r in rows}


def test_out_of_range_and_bad_formats_reach_the_scan_findings():
    dataset = security.generate(size=2000, defects="out_of_range,bad_formats")
    rows = {r["finding_id"]: r for r in _read(dataset, "vulnerability_scan")}
    assert all(not 0 <= float(rows[i]["cvss"]) <= 10 for i in dataset.injected["out_of_range_cvss"])
    assert all(not CVE.fullmatch(rows[i]["cve_id"]) for i in dataset.injected["bad_formats_cve"])
