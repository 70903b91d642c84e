"""Each day's machine-readable portfolio notes (dayXX_NOTES_portfolio.yaml): a LinkedIn draft, an Upwork
entry with the template's fields, notes for the README generator; honest and pointing only at real files."""
from __future__ import annotations

import re

import pytest
import yaml
from repo_helpers import DAYS, ROOT
from test_repo_readmes import BENCH_DAYS, bench_verdicts

UPWORK_FIELDS = {"project_name", "automation_type", "industry", "demonstrates", "skills", "tech_stack",
                 "synthetic_data", "key_features", "applicable_to", "keywords"}


def _notes(day: str) -> dict:
    return yaml.safe_load((ROOT / day / f"{day}_NOTES_portfolio.yaml").read_text())


@pytest.mark.parametrize("day", DAYS)
def test_the_notes_have_every_part_the_template_asks_for(day):
    notes = _notes(day)
    assert notes["day"] == day and len(notes["linkedin_post"].split()) >= 60
    upwork = notes["upwork_portfolio"]
    assert UPWORK_FIELDS <= set(upwork), f"missing: {UPWORK_FIELDS - set(upwork)}"
    assert upwork["synthetic_data"].startswith("Yes")
    assert len(upwork["key_features"]) >= 3
    assert all(feature["feature"] and feature["business_value"] for feature in upwork["key_features"])
    assert all(item["skill"] and item["technique"] for item in upwork["demonstrates"])
    assert {"for_whom", "what_it_does", "run", "evidence", "known_gaps"} <= set(notes["readme_generator"])


@pytest.mark.parametrize("day", DAYS)
def test_the_notes_name_only_evidence_that_exists(day):
    evidence = _notes(day)["readme_generator"]["evidence"]
    assert evidence, "no evidence named"
    missing = [item["path"] for item in evidence if not (ROOT / day / item["path"]).exists()]
    assert missing == []
    text = (ROOT / day / f"{day}_NOTES_portfolio.yaml").read_text()
    for path in re.findall(rf"\b(?:{day}/)?((?:screenshots|evidence|workflows|data_docs)/[\w./-]+\.\w+)", text):
        assert (ROOT / day / path).exists(), path


@pytest.mark.parametrize("day", DAYS)
def test_the_notes_claim_no_delivery_time_and_no_verdict_the_results_contradict(day):
    notes = _notes(day)
    text = (ROOT / day / f"{day}_NOTES_portfolio.yaml").read_text().lower()
    assert not re.search(r"\b\d+\s*hours?\b|time to deliver|time_to_deliver", text)
    benchmark = notes["readme_generator"].get("benchmark")
    assert (benchmark is not None) == (day in BENCH_DAYS)
    if benchmark:
        assert (ROOT / day / benchmark["results_file"]).is_file()
        assert benchmark["target_met"] == all(bench_verdicts(day).values())


@pytest.mark.parametrize("day", DAYS)
def test_the_notes_show_every_committed_picture_and_no_gap_that_is_closed(day):
    """The README generator shows what the notes list: every committed screenshot is there, and a known gap
    does not say a picture is missing when one is committed (gaps go stale when evidence is regenerated)."""
    notes = _notes(day)["readme_generator"]
    listed = {item["path"] for item in notes["evidence"]}
    pictures = {f"screenshots/{path.name}" for path in (ROOT / day / "screenshots").glob("*.png")}
    assert pictures - listed == set(), "committed screenshots the notes do not show"
    gaps = " ".join(map(str, notes["known_gaps"])).lower()
    assert not (pictures and re.search(r"\bno (screenshot|picture)", gaps)), notes["known_gaps"]
