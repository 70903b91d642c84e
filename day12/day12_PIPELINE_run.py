"""One validation run: read the inputs, skip unchanged ones, run the checkpoint over all of them, write
the results JSON, return the exit code.

Exit codes: 0 every expectation passed; 1 only warning/info expectations failed; 3 an input could not
be read; 4 a critical expectation failed (2 is configuration or usage, as in the other days). One run
validates at most one file per dataset (security events, vulnerability scan): day12_validation_checkpoint
validates each against its own suite in one go. The results JSON names each expectation, its severity and
statistics, and identifies failing rows by id only.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import socket
import stat
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from day12_INPUT_files import (day12_content_hash, day12_detect_dataset, day12_InputError, day12_read_input,
                               day12_unexpected_column_count)
from day12_LOG_setup import DAY12_ABANDONED, DAY12_CRASHED, DAY12_INTERRUPTED, day12_crash_fields

DAY12_LOG = logging.getLogger("day12")
DAY12_EXIT = {None: 0, "info": 1, "warning": 1, "critical": 4}
DAY12_EXIT_CONFIG = 2  # configuration rejected or bad usage: the same code as days 11, 13, 14 and 15 (and argparse)
DAY12_EXIT_INPUT = 3  # an input could not be read


@dataclass(frozen=True)
class day12_RunOutcome:
    exit_code: int
    message: str
    results_path: Path | None = None


@dataclass(frozen=True)
class day12_Input:
    path: Path
    dataset: str
    df: object
    content_hash: str


def _state(settings) -> dict:
    path = settings.results_dir / "day12_last_success.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def day12_load_input(settings, path: Path, *, dataset: str | None = None, force: bool = False) -> day12_Input | None:
    """The file read and recognised, or None if unchanged since its last successful run; day12_InputError if unreadable."""
    path = Path(path)
    before = _identity(path)
    try:
        content_hash = day12_content_hash(path) if path.is_file() else ""
    except OSError as exc:  # an I/O error, no permission: this file is unreadable, the others of a pass are not
        raise day12_InputError(f"{path}: unreadable ({type(exc).__name__})") from None
    if not force and content_hash and _state(settings).get(str(path.resolve())) == content_hash:
        DAY12_LOG.info("input unchanged since the last successful run; skipped", extra={"input": path.name})
        return None
    df = day12_read_input(path)
    if _identity(path) != before:  # the hash would not be of what was validated, and a pass would be recorded for it
        raise day12_InputError(f"{path}: changed while it was read; it is validated again once it stops changing")
    return day12_Input(path, day12_detect_dataset(df, path, dataset), df, content_hash)


def _identity(path: Path) -> tuple | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def day12_claim_run_name(settings, now: datetime, inputs=()) -> str:
    """day12-<UTC second>, with -2, -3... when that name is taken: runs started in the same second (drop-folder
    rounds, two processes) would overwrite each other's results and quarantine. The results file is created
    exclusively as the claim, saying "running" until the run writes its results over it. The claim names its process
    and machine: a run killed with kill -9 writes nothing on its way out, and the next run here marks it abandoned."""
    name = _claim(settings, now, inputs)
    _mark_abandoned(settings, found_by=name)
    return name


def _claim(settings, now: datetime, inputs) -> str:
    settings.results_dir.mkdir(parents=True, exist_ok=True)
    base = f"day12-{now:%Y%m%dT%H%M%SZ}"
    for n in itertools.count(1):
        name = base if n == 1 else f"{base}-{n}"
        try:
            with open(settings.results_dir / f"{name}.json", "x", encoding="utf-8") as claim:
                claim.write(json.dumps({"run": name, "status": "running", "pid": os.getpid(), "host": socket.gethostname(),
                                        "pidns": day12_pid_namespace(), "inputs": list(inputs)}) + "\n")
            break
        except FileExistsError:
            continue
    return name


@contextlib.contextmanager
def day12_claimed_run(settings, now: datetime, run_name: str | None = None, inputs=()):
    """The run's name, claimed unless the caller named it (and reports for it). A run of ours that ends without its
    results (Ctrl-C, a crash) says so in its results file on the way out, instead of "running" for good."""
    if run_name:
        yield run_name
        return
    name = _claim(settings, now, inputs)
    try:
        _mark_abandoned(settings, found_by=name)  # a while in a full results folder: a Ctrl-C here is this run's too
        yield name
    except Exception as exc:
        _end_claim(settings, name, {"status": "crashed", "message": DAY12_CRASHED, **day12_crash_fields(exc)})
        raise
    except BaseException:  # Ctrl-C, or a stop from outside (SystemExit, Airflow's task termination)
        _end_claim(settings, name, {"status": "interrupted", "message": DAY12_INTERRUPTED})
        raise


_CLAIM_MAX_BYTES = 16_384  # a claim is one short line; finished results (every expectation, the ids) are larger


def _end_claim(settings, name: str, fields: dict) -> None:
    path = settings.results_dir / f"{name}.json"
    try:
        record = json.loads(path.read_text())  # finished results, if the run got that far, are kept
    except (OSError, ValueError):
        record = {"run": name}
    with contextlib.suppress(OSError):  # the run's own error, not this one, is what the caller reports
        _write_replacing(path, json.dumps(record | fields, indent=2) + "\n")


def _write_replacing(path: Path, text: str) -> None:
    """Whole or not at all: a reader (a monitor, another run's sweep) never sees half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _mark_abandoned(settings, *, found_by: str) -> None:
    """Claims of this machine whose process is gone: killed (kill -9, out of memory) or lost with the machine."""
    here, marked = (socket.gethostname(), day12_pid_namespace()), 0  # read once per sweep, not once per file
    for path in settings.results_dir.glob("day12-*.json"):
        if not _of_a_dead_process(_read_claim(path), here):
            continue
        claim = _read_claim(path)  # again, its process now known gone: it may have written its results meanwhile
        if _of_a_dead_process(claim, here):
            with contextlib.suppress(OSError):  # a folder this run may not write to: its own claim says so, not here
                _write_replacing(path, json.dumps(claim | {"status": "abandoned", "message": DAY12_ABANDONED,
                                                           "found_by": found_by}, indent=2) + "\n")
                marked += 1
    if marked:
        DAY12_LOG.warning("results files of killed runs marked abandoned", extra={"runs": marked})


def _read_claim(path: Path) -> dict:
    """A claim is a short regular file written by a run: whatever else bears its name (a FIFO, a link to a device, a file
    growing) is read no further than that, nor waited on."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # gone, or a symbolic link
        return {}
    try:
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return {}
            text = handle.read(_CLAIM_MAX_BYTES + 1)
        claim = json.loads(text) if len(text) <= _CLAIM_MAX_BYTES else {}
    except (OSError, ValueError):  # being written
        return {}
    return claim if isinstance(claim, dict) else {}


def day12_pid_namespace() -> str:
    """The process ids a pid is one of: a container may share the machine's name (docker --network host) but not its
    processes. Empty where the system does not say (no /proc)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _of_a_dead_process(claim: dict, here: tuple[str, str]) -> bool:
    """False for what cannot be told: a live process, another machine's or PID namespace's run, a claim without a process
    or namespace (older runs)."""
    from day12_GATE_validation import day12_process_alive

    pid = claim.get("pid")
    return (claim.get("status") == "running" and (claim.get("host"), claim.get("pidns")) == here
            and isinstance(pid, int) and not day12_process_alive(pid))


_HELD_LOCKS: dict[tuple, list] = {}  # (thread, run folder) -> [lock file, depth]: re-entrant within one thread


@contextlib.contextmanager
def day12_project_lock(settings, *, wait: bool = True):
    """The run folder's GX project to one run at a time (yields False, without waiting, if taken and wait is False).

    Runs of several processes (the scheduler, cron --once, --input, --source) share the project: GX refused a suite
    another process had just rewritten, and the run was lost with a traceback."""
    from day12_GATE_validation import DAY12_GX_LOCK

    if not DAY12_GX_LOCK.acquire(blocking=wait):  # first the process's turn (threads), then the folder's (processes)
        yield False
        return
    try:
        with _folder_lock(settings, wait=wait) as held:
            yield held
    finally:
        DAY12_GX_LOCK.release()


@contextlib.contextmanager
def _folder_lock(settings, *, wait: bool):
    import fcntl

    settings.run_dir.mkdir(parents=True, exist_ok=True)
    key = (threading.get_ident(), str(settings.run_dir.resolve()))  # another thread opens its own file: flock waits
    if key in _HELD_LOCKS:
        _HELD_LOCKS[key][1] += 1
        try:
            yield True
        finally:
            _HELD_LOCKS[key][1] -= 1
        return
    handle = open(settings.run_dir / ".day12_run.lock", "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        _HELD_LOCKS[key] = [handle, 1]
        try:
            yield True
        finally:
            del _HELD_LOCKS[key]
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def day12_run_context(settings):
    """The GX project of ordinary runs: in the git-ignored run folder, with its own Data Docs site, so a run never
    rewrites the committed gx/ config or data_docs/ site (only --demo builds those)."""
    from day12_GATE_validation import day12_context, day12_ensure_docs_site

    settings.run_dir.mkdir(parents=True, exist_ok=True)
    context = day12_context(settings.run_dir)
    day12_ensure_docs_site(context, settings.run_dir / "data_docs")
    return context


def day12_validate_inputs(settings, inputs: list[day12_Input], **run) -> day12_RunOutcome:
    """One checkpoint run over inputs of distinct datasets (day12_InputError otherwise), holding the run folder
    (callers of their own, such as the Airflow DAG, share it with the scheduler and --input runs)."""
    with day12_project_lock(settings):
        return _validate_inputs(settings, inputs, **run)


def _validate_inputs(settings, inputs: list[day12_Input], *, context=None, run_name: str | None = None,
                     fixed_time: datetime | None = None, now: datetime | None = None,
                     docs_dir: Path | None = None) -> day12_RunOutcome:
    from day12_ACTIONS_checkpoint import day12_slack_target
    from day12_GATE_validation import day12_run_checkpoint

    started = time.monotonic()
    if len({i.dataset for i in inputs}) < len(inputs):
        raise day12_InputError(f"{', '.join(i.path.name for i in inputs)}: give at most one file per dataset per run")
    now = now or datetime.now(timezone.utc)
    with day12_claimed_run(settings, now, run_name, [i.path.name for i in inputs]) as run_name:
        context = context or day12_run_context(settings)
        slack = settings.slack_webhook_url.get_secret_value() if settings.slack_webhook_url else None
        with day12_slack_target(slack):  # the notify action reads it; never written into the checkpoint JSON
            results = day12_run_checkpoint(context, {i.dataset: i.df for i in inputs}, settings=settings, now=now,
                                           run_name=run_name, fixed_time=fixed_time, docs_dir=docs_dir or settings.run_dir / "data_docs")
        sections = []
        for item in sorted(inputs, key=lambda i: i.dataset):
            result = results[item.dataset]
            sections.append({"input": item.path.name, "content_sha256": item.content_hash, "dataset": item.dataset,
                             "rows": len(item.df), "unexpected_columns": day12_unexpected_column_count(item.df, item.dataset),
                             "success": result.success, "max_failed_severity": result.max_failed_severity,
                             "statistics": result.statistics, "quarantined_ids": list(result.quarantined_ids),
                             "expectations": list(result.expectations)})
        outcome = day12_report_run(settings, run_name, sections, started)
        passed = {str(i.path.resolve()): i.content_hash for i in inputs if results[i.dataset].success}
        if passed:
            (settings.results_dir / "day12_last_success.json").write_text(json.dumps(_state(settings) | passed, indent=2) + "\n")
    return outcome


def day12_report_run(settings, run_name: str, sections: list[dict], started: float) -> day12_RunOutcome:
    """The results JSON, the "validation finished" log line and the one-line verdict of a run (files or a table)."""
    from day12_SUITES_security import DAY12_SEVERITY_RANK

    worst = max((s["max_failed_severity"] for s in sections if s["max_failed_severity"]), key=DAY12_SEVERITY_RANK.get, default=None)
    settings.results_dir.mkdir(parents=True, exist_ok=True)
    results_path = settings.results_dir / f"{run_name}.json"
    results_path.write_text(json.dumps({"run": run_name, "success": worst is None, "max_failed_severity": worst,
                                        "datasets": sections}, indent=2, default=str) + "\n")
    code = DAY12_EXIT[worst]
    for s in sections:  # which input of a run failed, and how badly: counts and names only (a table's, not its URL)
        DAY12_LOG.info("dataset validated", extra={
            "run": run_name, "input": s["input"].rsplit("/", 1)[-1], "dataset": s["dataset"], "rows": s["rows"], "success": s["success"],
            "failed": sum(not e["success"] for e in s["expectations"]), "worst": s["max_failed_severity"] or "none",
            "quarantined": len(s["quarantined_ids"])})
    DAY12_LOG.info("validation finished", extra={
        "run": run_name, "datasets": ",".join(s["dataset"] for s in sections), "rows": sum(s["rows"] for s in sections),
        "success": worst is None, "failed": sum(len([e for e in s["expectations"] if not e["success"]]) for s in sections),
        "worst": worst or "none", "quarantined": sum(len(s["quarantined_ids"]) for s in sections), "exit_code": code,
        "duration_s": round(time.monotonic() - started, 2)})
    verdicts = [f"{s['input']} ({s['dataset']}, {s['rows']} rows"
                + (f", {s['unexpected_columns']} column(s) not in the schema, named by position" if s["unexpected_columns"] else "")
                + "): " + (
        "all expectations passed" if s["success"] else
        f"{sum(not e['success'] for e in s['expectations'])} expectation(s) failed, worst {s['max_failed_severity']}")
        for s in sections]
    return day12_RunOutcome(code, "; ".join(verdicts) + f"; results: {results_path}", results_path)


def day12_run_files(settings, paths: list[Path], *, dataset: str | None = None, force: bool = False, **run) -> day12_RunOutcome:
    """Read every input (any unreadable one: exit 3, nothing validated), then one checkpoint run over the changed ones."""
    with day12_project_lock(settings):
        return _run_files(settings, paths, dataset=dataset, force=force, **run)


def _run_files(settings, paths: list[Path], *, dataset: str | None, force: bool, **run) -> day12_RunOutcome:
    inputs, skipped = [], []
    try:
        for path in paths:
            item = day12_load_input(settings, path, dataset=dataset, force=force)
            if item is None:
                skipped.append(Path(path).name)
            else:
                inputs.append(item)
        if not inputs:
            return day12_RunOutcome(0, "; ".join(f"{name}: unchanged since the last successful run, skipped (use --force)"
                                                 for name in skipped))
        return day12_validate_inputs(settings, inputs, **run)
    except day12_InputError as exc:
        DAY12_LOG.error("input unreadable", extra={"error": str(exc)})
        return day12_RunOutcome(DAY12_EXIT_INPUT, f"input could not be read: {exc}")


def day12_validate_drop_folder(settings) -> dict[str, int] | None:
    """Exit code per file of this pass (the scheduled job; also callable on its own); None, with an error logged,
    when the drop folder does not exist.

    Files are read one by one (an unreadable one gets 3 and blocks nothing), then validated in rounds of at
    most one file per dataset, each round one run of day12_validation_checkpoint over every suite."""
    log = logging.getLogger("day12.dropfolder")
    if not settings.drop_folder.is_dir():
        log.error("drop folder missing: nothing validated; create it or set DAY12_DROP_FOLDER",
                  extra={"drop_folder": str(settings.drop_folder)})
        return None
    with day12_project_lock(settings, wait=False) as held:
        if not held:  # the files stay in the folder: the next pass validates them
            log.warning("another run holds the run folder; this pass skipped", extra={"run_dir": str(settings.run_dir)})
            return {}
        return _drop_folder_pass(settings, log)


def _drop_folder_pass(settings, log) -> dict[str, int]:
    context = day12_run_context(settings)
    codes, pending = {}, []
    for path in sorted(p for p in settings.drop_folder.iterdir() if p.suffix.lower() in (".csv", ".parquet")):
        try:
            item = day12_load_input(settings, path)
        except day12_InputError as exc:
            log.error("input unreadable", extra={"input": path.name, "error": str(exc)})
            codes[path.name] = DAY12_EXIT_INPUT
            continue
        if item is None:
            codes[path.name] = 0  # unchanged since its last successful run
        else:
            pending.append(item)
    while pending:
        round_, pending = _one_per_dataset(pending)
        code = day12_validate_inputs(settings, round_, context=context).exit_code
        codes.update({item.path.name: code for item in round_})
    log.info("drop folder pass", extra={"files": len(codes), "failed": sum(1 for c in codes.values() if c)})
    return dict(sorted(codes.items()))


def _one_per_dataset(items: list) -> tuple[list, list]:
    chosen, rest, seen = [], [], set()
    for item in items:
        (rest if item.dataset in seen else chosen).append(item)
        seen.add(item.dataset)
    return chosen, rest
