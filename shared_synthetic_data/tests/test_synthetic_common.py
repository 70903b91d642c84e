"""Determinism and the CLI, for every domain."""
import subprocess
import sys

import pytest

from shared_synthetic_data import DOMAINS, load_domain
from shared_synthetic_data.__main__ import main

SMALL = {"retail": 4, "security": 300, "compliance": 40, "transport": 30, "saas": 200}


@pytest.mark.parametrize("domain", DOMAINS)
def test_same_seed_and_arguments_give_identical_bytes(domain):
    module = load_domain(domain)
    first = module.generate(seed=3, size=SMALL[domain], defects=module.DEFECTS)
    second = module.generate(seed=3, size=SMALL[domain], defects=module.DEFECTS)
    assert first.files == second.files
    assert first.manifest() == second.manifest()


@pytest.mark.parametrize("domain", DOMAINS)
def test_another_seed_gives_other_data(domain):
    module = load_domain(domain)
    assert module.generate(seed=1, size=SMALL[domain]).files != module.generate(seed=2, size=SMALL[domain]).files


@pytest.mark.parametrize("domain", DOMAINS)
def test_unknown_defect_is_rejected_by_name(domain):
    with pytest.raises(ValueError, match="unknown defect.*nonsense"):
        load_domain(domain).generate(size=SMALL[domain], defects="nonsense")


def test_cli_writes_the_same_bytes_twice(tmp_path):
    for run in ("a", "b"):
        assert main(["security", "--seed", "7", "--size", "100", "--defects", "pii,duplicates",
                     "--out", str(tmp_path / run)]) == 0
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert [str(p) for p in files_a] == ["manifest.json", "security/security_events.csv", "security/vulnerability_scan.csv"]
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_cli_reports_a_bad_defect_in_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "shared_synthetic_data", "saas", "--defects", "pii",
                           "--out", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown defect(s) pii" in proc.stderr
    assert "Traceback" not in proc.stderr
