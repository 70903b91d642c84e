"""The committed evidence is what a real run writes: the sample run log has the lines and fields a fresh run logs,
and no value, PII or machine path; every Data Docs validation page names its data asset, in committed and in
ordinary runs alike."""
import csv
import logging
import re
from pathlib import Path

import pytest

from day12_DEMO_docs import DAY12_DEMO_NOW, day12_sample_file_runs
from day12_LOG_setup import day12_KeyValueFormatter
from day12_PIPELINE_run import day12_run_files
from day12_SUITES_security import DAY12_PII_PATTERNS
from shared_synthetic_data import security

DAY = Path(__file__).resolve().parents[1]
LOG = DAY / "evidence" / "day12_sample_run.log"
SITE = DAY / "data_docs"
LINE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ level=(?:INFO|WARNING|ERROR) logger=day12(?:\.\w+)* msg=(?:"[^"]*"|\S+)'
                  r'(?: \w+=(?:"[^"]*"|\S*))*$')
FIELD = re.compile(r' (\w+)=("[^"]*"|\S*)')
IDENTIFYING = ("event_id", "src_ip", "user", "message", "finding_id", "host", "cve_id")  # columns whose values identify


def _shape(line: str) -> tuple:
    """(logger, message, field names) of one log line: what the code decides, not what the run measured."""
    fields = {key: value.strip('"') for key, value in FIELD.findall(line)}
    return fields.pop("logger"), fields.pop("msg"), tuple(k for k in fields if k != "level")


def _fields(line: str) -> dict:
    return {key: value.strip('"') for key, value in FIELD.findall(line)}


@pytest.fixture(scope="module")
def committed() -> list[str]:
    assert LOG.is_file(), "run day12/day12_EVIDENCE_capture.py to write the sample run log"
    return LOG.read_text(encoding="utf-8").splitlines()


def test_the_sample_log_has_the_lines_and_fields_of_a_fresh_run(committed, settings, tmp_path):
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(day12_KeyValueFormatter().format(record))
    root = logging.getLogger("day12")
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        codes = day12_sample_file_runs(settings, tmp_path / "inputs")
    finally:
        root.removeHandler(handler)
        root.setLevel(before)
    assert codes == {"clean": 0, "warnings": 1, "critical": 4}
    assert [line for line in committed if not LINE.match(line)] == []
    fresh = {_shape(line) for line in lines}
    run_lines = {_shape(line) for line in committed if _shape(line)[0] not in ("day12.evidence", "day12.docs")}  # demo-only
    assert fresh <= run_lines, "a fresh run logs lines the committed log lacks: regenerate it"
    assert run_lines <= fresh, "the committed log has lines no run writes"


def test_the_sample_log_shows_a_pass_a_warning_and_a_quarantined_critical(committed):
    finished = [_fields(line) for line in committed if 'msg="validation finished"' in line]
    outcomes = {(f["worst"], f["exit_code"]) for f in finished}
    assert {("none", "0"), ("warning", "1"), ("critical", "4")} <= outcomes
    assert all(int(f["quarantined"]) > 0 for f in finished if f["worst"] == "critical")
    assert any('msg="screenshot written"' in line for line in committed)


def test_the_sample_log_holds_no_value_pii_or_machine_path(committed, tmp_path):
    text = "\n".join(committed)
    assert not re.search("|".join(DAY12_PII_PATTERNS), text)
    values = set()
    samples = list((DAY / "data").glob("day12_sample_*.csv"))
    for defects in ((), ("clock_skew",), ("pii",)):  # the sample file runs' inputs
        path = tmp_path / f"{'-'.join(defects) or 'clean'}.csv"
        path.write_bytes(security.generate(size=2_000, defects=defects).files["security/security_events.csv"])
        samples.append(path)
    for path in samples:
        with open(path, newline="", encoding="utf-8") as source:
            for row in csv.DictReader(source):
                values.update(v for k, v in row.items() if k in IDENTIFYING and v and len(v) > 3)
    assert len(values) > 1_000
    assert sorted(v for v in values if v in text)[:5] == []
    assert str(DAY.parent) not in text and not re.search(r'(?:^|[\s="])/\w', text), "a machine path in the log"


def test_the_readme_links_the_sample_log():
    evidence = (DAY / "README.md").read_text(encoding="utf-8").split("## Evidence", 1)[1].split("\n## ", 1)[0]
    assert "(evidence/day12_sample_run.log)" in evidence


def _asset_names(page: Path) -> list[str]:
    return re.findall(r"Data asset: ([^<\s]*)<br>", page.read_text(encoding="utf-8"))


def test_every_committed_validation_page_names_its_asset():
    pages = sorted((SITE / "validations").rglob("*.html"))
    assert len(pages) == 4
    for page in pages:
        dataset = page.relative_to(SITE / "validations").parts[0].removeprefix("day12_").removesuffix("_suite")
        assert _asset_names(page) == [dataset], f"{page.relative_to(DAY)}: Data asset is not {dataset}"


def test_an_ordinary_run_s_data_docs_name_the_asset(settings, tmp_path):
    path = tmp_path / "scan.csv"
    path.write_bytes(security.generate(size=2_000, defects=("bad_formats",)).files["security/vulnerability_scan.csv"])
    assert day12_run_files(settings, [path], now=DAY12_DEMO_NOW).exit_code == 1
    (page,) = (settings.run_dir / "data_docs" / "validations").rglob("*.html")
    assert _asset_names(page) == ["vulnerability_scan"]
