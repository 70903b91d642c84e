"""The data-quality gate: one function other projects call, and the GX project behind it.

    result = day12_validate_dataframe(df, dataset="security_events")
    if not result.success: stop the pipeline (result.max_failed_severity, result.quarantined_ids)

day12_validate_dataframe validates one DataFrame in an ephemeral GX context and writes nothing
(unless given a quarantine folder). The orchestrator instead runs day12_validation_checkpoint in the
committed project: each input is typed and staged as Parquet, and one checkpoint run validates every
staged dataset against its own suite, then scrubs, quarantines, rebuilds Data Docs and notifies once.
Great Expectations is imported here, lazily: it takes seconds to import.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from day12_SUITES_security import DAY12_DATASETS, DAY12_ROW_ID, DAY12_SEVERITY_RANK, day12_runtime_parameters

DAY12_LOG = logging.getLogger("day12.gate")
# GX keeps the context of the latest get_context() in a process-wide global (its actions read the store and the
# docs sites through it), and the file runs read their staged copies from the working directory: day12's runs in
# one process take turns, whichever thread starts them.
DAY12_GX_LOCK = threading.RLock()
DAY12_DATASOURCE = "day12_security"  # in-memory DataFrames (the importable gate)
DAY12_STAGING = "day12_staging"  # typed Parquet files the checkpoint reads (the orchestrator)
DAY12_CHECKPOINT = "day12_validation_checkpoint"
DAY12_DOCS_SITE = "day12_site"
DAY12_DEFAULT_DOCS = Path(__file__).resolve().parent / "data_docs"  # committed (built by --demo), so auditors can browse it
DAY12_ID_COLUMNS = {"security_events": "event_id", "vulnerability_scan": "finding_id"}
DAY12_DATETIME_COLUMNS = {"security_events": ("event_time", "ingested_at"), "vulnerability_scan": ("detected_at",)}
DAY12_NUMERIC_COLUMNS = {"security_events": ("dst_port",), "vulnerability_scan": ("cvss",)}


@dataclass(frozen=True)
class day12_GateResult:
    dataset: str
    success: bool
    max_failed_severity: str | None
    failed_expectations: tuple[dict, ...]
    quarantined_ids: tuple[str, ...]
    statistics: dict = field(default_factory=dict)
    expectations: tuple[dict, ...] = ()


def day12_prepare(df, dataset: str):
    """Typed columns for the checks: unparseable times become NaT (caught by not-null), bad numbers NaN.

    Columns outside the schema are renamed by position, and the index is the dataset's own id where it looks
    like an id (a value that could be data, such as an e-mail address in event_id, becomes row-<n>): GX
    reports column names and failing-row ids, and neither may carry a value."""
    import pandas as pd

    from day12_INPUT_files import day12_mask_columns

    df = day12_mask_columns(df, dataset).copy()
    for column in DAY12_DATETIME_COLUMNS[dataset]:
        if column in df:
            df[column] = pd.to_datetime(df[column], utc=True, errors="coerce", format="ISO8601")
    for column in DAY12_NUMERIC_COLUMNS[dataset]:
        if column in df:
            df[column] = pd.to_numeric(df[column], errors="coerce")
    # Failing rows are reported by index. Each dataset's own id becomes an index under one shared name, so one
    # checkpoint result format names the failing rows of every dataset (GX shares it across validations).
    id_column = DAY12_ID_COLUMNS[dataset]
    ids = day12_safe_ids(df[id_column]) if id_column in df else [f"row-{n}" for n in range(1, len(df) + 1)]
    df.index = pd.Index(ids, name=DAY12_ROW_ID)
    return df


DAY12_ID_SHAPE = r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}"  # what an event or finding id looks like


def day12_safe_ids(column) -> list:
    """Each id as given when it looks like an id and matches no PII pattern; otherwise row-<n> (1-based data row)."""
    import numpy as np

    from day12_SUITES_security import DAY12_PII_PATTERNS

    text = column.astype("string")
    safe = text.str.fullmatch(DAY12_ID_SHAPE, na=False) & ~text.str.contains("|".join(DAY12_PII_PATTERNS), na=False)
    ids = text.to_numpy(dtype=object, na_value=None)
    for position in np.flatnonzero(~safe.to_numpy(dtype=bool)):
        ids[position] = f"row-{position + 1}"
    return ids


def day12_stable_id(name: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"day12/{name}"))


def day12_skip_batch_fingerprint() -> None:
    """GX hashes every cell of each pandas batch under 1 GB into a batch marker (0.9 s per million rows here).
    The results drop batch markers (they would make the Data Docs churn), and the orchestrator already hashes
    the input file for change detection, so the fingerprint is pure cost. GX has no option for it; its
    module threshold is the switch (tests/test_day12_runs.py checks it still exists in the pinned GX)."""
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0


def day12_context(project_dir: Path | None):
    """A GX context: ephemeral (None) or the file project in project_dir/gx."""
    import great_expectations as gx

    day12_skip_batch_fingerprint()

    if project_dir is None:
        return gx.get_context(mode="ephemeral")
    context = gx.get_context(mode="file", project_root_dir=str(project_dir))
    day12_scrub_before_storing(context)
    return context


def day12_scrub_before_storing(context) -> None:
    """GX writes every result to its store before any checkpoint action runs, so a run killed before the scrub
    action left failing ids and a table's column names on disk as the data had them: results are scrubbed on
    their way into the store too (the scrub action still runs, for the in-memory results and the docs)."""
    from day12_ACTIONS_checkpoint import day12_scrub_result

    store = context.validation_results_store
    if getattr(store, "_day12_scrubbing", False):
        return
    write = store.store_validation_results

    def scrubbed(suite_validation_result, *args, **kwargs):
        for result in suite_validation_result.results:
            day12_scrub_result(result)
        return write(suite_validation_result, *args, **kwargs)

    store.store_validation_results = scrubbed
    store._day12_scrubbing = True


@contextlib.contextmanager
def day12_progress_bars(context):
    """GX's "Calculating Metrics" progress bars only when stderr is a terminal (cron and pipeline logs stay
    clean). Set for the run only and restored: GX saves its variables with the project config, which must
    not depend on where the demo was run."""
    import sys

    from great_expectations.data_context.types.base import ProgressBarsConfig

    before = context.variables.progress_bars
    context.variables.progress_bars = ProgressBarsConfig(globally=sys.stderr.isatty())
    try:
        yield
    finally:
        context.variables.progress_bars = before


def day12_suite(context, dataset: str):
    """The suite, rebuilt from code with stable ids, so the stored JSON never drifts from the code.

    Built whole and written once: GX writes a stored suite again on every add_expectation (the whole JSON, once per
    expectation, before every run)."""
    import great_expectations as gx

    suite_name = f"day12_{dataset}_suite"
    suite = gx.ExpectationSuite(name=suite_name, id=day12_stable_id(suite_name), expectations=DAY12_DATASETS[dataset](),
                                meta={"dataset": dataset, "owner": "security data engineering"})
    for n, expectation in enumerate(suite.expectations):
        expectation.id = day12_stable_id(f"{suite_name}:{n}:{expectation.expectation_type}")  # same id on every rebuild
    return context.suites.add_or_update(suite)


def _get_or_add(get, add, *missing: type[Exception]):
    try:
        return get()
    except missing:
        return add()


def _dataframe_batch(context, dataset: str):
    sources = context.data_sources
    source = _get_or_add(lambda: sources.get(DAY12_DATASOURCE), lambda: sources.add_pandas(DAY12_DATASOURCE), KeyError)
    asset = _get_or_add(lambda: source.get_asset(dataset), lambda: source.add_dataframe_asset(dataset), LookupError)
    return _get_or_add(lambda: asset.get_batch_definition("whole_file"),
                       lambda: asset.add_batch_definition_whole_dataframe("whole_file"), KeyError, LookupError)


def _staged_batch(context, dataset: str):
    sources = context.data_sources
    add = lambda: sources.add_pandas_filesystem(DAY12_STAGING, base_directory=Path("."))  # noqa: E731
    source = _get_or_add(lambda: sources.get(DAY12_STAGING), add, KeyError)
    if Path(source.base_directory) != Path("."):  # stored by an older version of this code: staged in the project
        sources.delete(DAY12_STAGING)
        source = add()
    asset = _get_or_add(lambda: source.get_asset(dataset), lambda: source.add_parquet_asset(dataset), LookupError)
    return _get_or_add(lambda: asset.get_batch_definition("staged"),
                       lambda: asset.add_batch_definition_path("staged", path=f"{dataset}.parquet"), KeyError, LookupError)


def _checkpoint(context, definitions: list, actions: list):
    import great_expectations as gx

    try:
        context.checkpoints.get(DAY12_CHECKPOINT)  # updating in place keeps its id, so the JSON does not churn
    except Exception:  # missing, or stored by an older version of this code in a shape it no longer loads
        stored = Path(getattr(context, "root_directory", None) or "/nonexistent") / "checkpoints" / f"{DAY12_CHECKPOINT}.json"
        stored.unlink(missing_ok=True)  # code owns the checkpoint: a stale file must never block the run
    return context.checkpoints.add_or_update(gx.Checkpoint(
        name=DAY12_CHECKPOINT, validation_definitions=definitions, actions=actions,
        # ids of failing rows, never their values: GX leaves the values out (exclude_unexpected_values) and
        # returns one compact id list per expectation; the scrub action removes anything else GX adds
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [DAY12_ROW_ID],
                       "exclude_unexpected_values": True, "partial_unexpected_count": 0,
                       "include_unexpected_rows": False, "return_unexpected_index_query": False}))


def _definition(context, dataset: str, batch):
    import great_expectations as gx

    return context.validation_definitions.add_or_update(gx.ValidationDefinition(
        name=f"day12_{dataset}_validation", id=day12_stable_id(f"{dataset}_validation"), data=batch, suite=day12_suite(context, dataset)))


def day12_ensure(context, dataset: str):
    """The in-memory gate's checkpoint: one DataFrame validation, scrubbed."""
    from day12_ACTIONS_checkpoint import day12_ScrubAction

    definition = _definition(context, dataset, _dataframe_batch(context, dataset))
    return _checkpoint(context, [definition], [day12_ScrubAction(name="scrub_failing_values")])


def day12_ensure_checkpoint(context, datasets: list[str]):
    """day12_validation_checkpoint in the project: one validation per staged dataset, each against its own suite,
    then the actions once for the whole run: scrub, Data Docs, notify. The quarantine file and the localising of
    the pages are written by the caller after the run, so the stored checkpoint names no folder at all."""
    from day12_ACTIONS_checkpoint import day12_DocsAction, day12_NotifyAction, day12_ScrubAction

    definitions = [_definition(context, dataset, _staged_batch(context, dataset)) for dataset in sorted(datasets)]
    actions = [day12_ScrubAction(name="scrub_failing_values"),  # first: pages are rendered from scrubbed results
               day12_DocsAction(name="update_data_docs", site_names=[DAY12_DOCS_SITE]),
               day12_NotifyAction(name="notify_on_failure")]
    return _checkpoint(context, definitions, actions)


def day12_stage(folder: Path, dataset: str, df) -> None:
    """Write the typed frame where the checkpoint's Parquet asset for this dataset reads it (a private temp folder)."""
    day12_prepare(df, dataset).to_parquet(Path(folder) / f"{dataset}.parquet")


DAY12_STAGING_PREFIX = "day12-staging-"  # + the owning process id: a folder whose process is gone is an orphan


@contextlib.contextmanager
def day12_staging_folder():
    """A private temporary folder (mode 0700) for the staged copies, removed when the run ends, whatever the outcome.
    A killed process (kill -9, OOM) removes nothing: the folders of dead processes are removed first."""
    import os
    import tempfile

    day12_remove_orphaned_staging()
    with tempfile.TemporaryDirectory(prefix=f"{DAY12_STAGING_PREFIX}{os.getpid()}-") as folder:
        yield folder


def day12_remove_orphaned_staging() -> int:
    import os
    import shutil
    import tempfile

    removed = 0
    for folder in Path(tempfile.gettempdir()).glob(f"{DAY12_STAGING_PREFIX}*"):
        owner = folder.name.removeprefix(DAY12_STAGING_PREFIX).split("-", 1)[0]
        if not owner.isdigit() or not folder.is_dir() or folder.stat().st_uid != os.getuid() or day12_process_alive(int(owner)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    if removed:
        DAY12_LOG.warning("staged copies of killed runs removed", extra={"folders": removed})
    return removed


def day12_process_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    except (OverflowError, ValueError):  # no process can have it (a forged claim or folder name): nothing to judge
        return True
    return True


def day12_ensure_docs_site(context, docs_dir: Path) -> None:
    """The committed Data Docs site, addressed relative to the GX folder so no machine path is stored."""
    import os

    relative = os.path.relpath(docs_dir, context.root_directory)
    config = {"class_name": "SiteBuilder", "store_backend": {"class_name": "TupleFilesystemStoreBackend",
              "base_directory": relative}, "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}}
    sites = context.get_config().data_docs_sites or {}
    if sites.get(DAY12_DOCS_SITE) != config:
        if DAY12_DOCS_SITE in sites:
            context.update_data_docs_site(DAY12_DOCS_SITE, config)
        else:
            context.add_data_docs_site(DAY12_DOCS_SITE, config)


def day12_offline_docs(docs_dir: Path) -> None:
    """Pages local and reproducible (no beacons, stable ids) and loading their scripts and styles from the site's
    own copies (a run folder's site gets the committed site's copies), so they open from file:// offline."""
    from day12_ACTIONS_checkpoint import day12_localise_docs
    from day12_DOCS_offline import day12_copy_assets, day12_point_pages_at_assets

    day12_localise_docs(docs_dir)
    day12_copy_assets(DAY12_DEFAULT_DOCS, docs_dir)
    day12_point_pages_at_assets(docs_dir)


def day12_summarise(dataset: str, suite_result) -> day12_GateResult:
    from day12_ACTIONS_checkpoint import day12_failed_ids

    rows, failed, ids = [], [], set()
    for result in suite_result.results:
        config = result.expectation_config
        meta = config.meta or {}
        row = {"expectation": config.type, "column": config.kwargs.get("column"), "description": config.description,
               "severity": meta.get("severity", "warning"), "reason": meta.get("reason", ""), "success": result.success,
               "unexpected_count": (result.result or {}).get("unexpected_count"),
               "unexpected_percent": (result.result or {}).get("unexpected_percent"),
               "observed_value": (result.result or {}).get("observed_value")}  # aggregates only: counts, column names
        rows.append(row)
        if not result.success:
            failed.append(row)
            ids.update(day12_failed_ids(result))
    worst = max((r["severity"] for r in failed), key=DAY12_SEVERITY_RANK.get, default=None)
    stats = {k: v for k, v in (suite_result.statistics or {}).items()}
    return day12_GateResult(dataset, suite_result.success, worst, tuple(failed), tuple(sorted(ids)), stats, tuple(rows))


def day12_validate_dataframe(df, dataset: str = "security_events", *, settings=None, now: datetime | None = None,
                             context=None, run_name: str | None = None, quarantine_dir: Path | None = None,
                             fixed_time: datetime | None = None) -> day12_GateResult:
    """Validate one DataFrame against its dataset's suite, in memory. Writes nothing unless given quarantine_dir."""
    from great_expectations.core.run_identifier import RunIdentifier

    from day12_CONFIG_settings import day12_load_settings

    if dataset not in DAY12_DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DAY12_DATASETS)}")
    settings = settings or day12_load_settings(env_file=None)
    now = now or datetime.now(timezone.utc)
    from day12_ACTIONS_checkpoint import day12_write_quarantine

    with DAY12_GX_LOCK:
        context = context or day12_context(None)
        checkpoint = day12_ensure(context, dataset)
        run_id = RunIdentifier(run_name=run_name or f"day12-{dataset}-{now:%Y%m%dT%H%M%S}", run_time=fixed_time or now)
        with day12_progress_bars(context):
            outcome = checkpoint.run(batch_parameters={"dataframe": day12_prepare(df, dataset)},
                                     expectation_parameters=day12_runtime_parameters(settings, now), run_id=run_id)
    if quarantine_dir is not None:
        day12_write_quarantine(outcome, quarantine_dir)
    (suite_result,) = outcome.run_results.values()
    return day12_summarise(dataset, suite_result)


def day12_run_checkpoint(context, frames: dict, *, settings, now: datetime, run_name: str, docs_dir: Path,
                         fixed_time: datetime | None = None) -> dict[str, day12_GateResult]:
    """Stage each dataset's frame and run day12_validation_checkpoint once over all of them: dataset -> result.

    The staged copies hold every raw value: they live in a private temporary folder (mode 0700) that is removed
    when the run ends, whatever the outcome. Then the quarantine file is written and the pages are localised."""
    from great_expectations.core.run_identifier import RunIdentifier

    from day12_ACTIONS_checkpoint import day12_write_quarantine

    with day12_staging_folder() as staging:
        for dataset, df in frames.items():
            day12_stage(staging, dataset, df)
        # GX resolves a filesystem datasource's relative base_directory against the working directory, and the
        # stored config must not name a machine path: so the staged assets are read from inside the temp folder.
        with DAY12_GX_LOCK, contextlib.chdir(staging):
            checkpoint = day12_ensure_checkpoint(context, list(frames))
            with day12_progress_bars(context):
                outcome = checkpoint.run(expectation_parameters=day12_runtime_parameters(settings, now),
                                         run_id=RunIdentifier(run_name=run_name, run_time=fixed_time or now))
    day12_write_quarantine(outcome, settings.quarantine_dir)
    day12_offline_docs(docs_dir)
    results = {}
    for suite_result in outcome.run_results.values():
        dataset = suite_result.suite_name.removeprefix("day12_").removesuffix("_suite")
        results[dataset] = day12_summarise(dataset, suite_result)
    return results
