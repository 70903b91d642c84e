"""--demo: validate generated clean and dirty samples and rebuild the committed Data Docs.

Deterministic on purpose: seeded samples, a fixed clock and fixed run names, stable suite and
expectation ids, the results store and the site wiped before the build. Rebuilding on the same data
produces the same files (a test checks), so the committed docs only change when something real does.
"""
from __future__ import annotations

import shutil
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path

from day12_CONFIG_settings import DAY12_DIR

DAY12_DATA_DIR = DAY12_DIR / "data"
DAY12_DOCS_DIR = DAY12_DIR / "data_docs"
DAY12_DEMO_END = date(2026, 11, 22)  # the samples' last day
DAY12_DEMO_NOW = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)  # the fixed clock the demo validates at
DAY12_DIRTY = ("pii", "invalid_ips", "duplicates", "future_timestamps", "clock_skew", "silent_source", "out_of_range",
               "bad_categories", "bad_formats")
DAY12_SAMPLES = {  # file -> (dataset, defects)
    "day12_sample_security_events_clean.csv": ("security_events", ()),
    "day12_sample_security_events_dirty.csv": ("security_events", DAY12_DIRTY),
    "day12_sample_vulnerability_scan_clean.csv": ("vulnerability_scan", ()),
    "day12_sample_vulnerability_scan_dirty.csv": ("vulnerability_scan", ("out_of_range", "bad_formats")),
}
DAY12_FILE_RUNS = {"clean": (), "warnings": ("clock_skew",), "critical": ("pii",)}  # one ordinary run per outcome


def day12_write_samples(folder: Path = DAY12_DATA_DIR) -> dict[str, Path]:
    from shared_synthetic_data import security

    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, (dataset, defects) in DAY12_SAMPLES.items():
        files = security.generate(size=2_000, defects=defects, end_date=DAY12_DEMO_END).files
        target = folder / name
        target.write_bytes(files[f"security/{dataset}.csv"])
        written[name] = target
    return written


def day12_build_docs(settings, samples: dict[str, Path], docs_dir: Path = DAY12_DOCS_DIR) -> list:
    """One checkpoint run per kind of sample (clean, dirty), each over every dataset given; then the site."""
    from day12_GATE_validation import day12_context, day12_ensure_docs_site
    from day12_PIPELINE_run import day12_load_input, day12_validate_inputs

    from day12_DOCS_offline import DAY12_VENDOR, day12_fetch_assets

    context = day12_context(settings.ge_project_dir.parent)
    day12_ensure_docs_site(context, docs_dir)
    keep = Path(tempfile.mkdtemp(prefix="day12-assets-"))  # the earlier build's asset copies, in case npm is missing
    if (docs_dir / DAY12_VENDOR).is_dir():
        shutil.copytree(docs_dir / DAY12_VENDOR, keep, dirs_exist_ok=True)
    shutil.rmtree(docs_dir, ignore_errors=True)  # a clean site: only this build's pages
    shutil.rmtree(Path(context.root_directory) / "uncommitted" / "validations", ignore_errors=True)
    outcomes = []
    for kind in ("clean", "dirty"):
        inputs = [day12_load_input(settings, path, dataset=DAY12_SAMPLES[name][0], force=True)
                  for name, path in samples.items() if name.endswith(f"_{kind}.csv")]
        if inputs:
            outcomes.append((kind, day12_validate_inputs(settings, inputs, context=context, run_name=f"day12-demo-{kind}",
                                                         fixed_time=DAY12_DEMO_NOW, now=DAY12_DEMO_NOW, docs_dir=docs_dir)))
    context.build_data_docs(site_names=["day12_site"])
    from day12_GATE_validation import day12_offline_docs

    try:
        day12_fetch_assets(docs_dir, keep_from=keep)
    finally:
        shutil.rmtree(keep, ignore_errors=True)
    day12_offline_docs(docs_dir)
    return outcomes


def day12_sample_file_runs(settings, folder: Path) -> dict[str, int]:
    """One ordinary run per outcome, as an operator would start them (--input FILE --force): a clean events file
    passes (exit 0), one with skewed clocks only warns (1), one with PII is critical and quarantined (4).
    Everything goes where settings say: the evidence points them at a throw-away folder."""
    from shared_synthetic_data import security

    from day12_PIPELINE_run import day12_run_files

    folder.mkdir(parents=True, exist_ok=True)
    codes = {}
    for kind, defects in DAY12_FILE_RUNS.items():
        path = folder / f"day12_events_{kind}.csv"
        path.write_bytes(security.generate(size=2_000, defects=defects, end_date=DAY12_DEMO_END).files["security/security_events.csv"])
        codes[kind] = day12_run_files(settings, [path], force=True, run_name=f"day12-sample-{kind}",
                                      fixed_time=DAY12_DEMO_NOW, now=DAY12_DEMO_NOW).exit_code
    return codes


def day12_demo(settings) -> int:
    outcomes = day12_build_docs(settings, day12_write_samples())
    codes = {kind: outcome.exit_code for kind, outcome in outcomes}
    print("day12 demo: " + "; ".join(f"{kind} samples (every suite, one checkpoint run) exit {c}" for kind, c in codes.items())
          + f"; Data Docs: {(DAY12_DOCS_DIR / 'index.html').relative_to(DAY12_DIR.parent)}")
    return 0 if codes == {"clean": 0, "dirty": 4} else 1
