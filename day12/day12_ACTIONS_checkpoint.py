"""Checkpoint actions, run in this order: scrub, (Data Docs), notify; then, by the caller, the quarantine file
and the localised pages (so the stored checkpoint names no folder).

GX keeps failing values in its results (unexpected_list, and the failing column beside the index in
unexpected_index_list) and stores them before any action runs. The scrub action therefore rewrites
every result, in memory and in the store, so that failing rows are identified by event_id alone,
and pins the timestamps to the run's fixed time so rebuilt Data Docs do not churn. Only then are
Data Docs built, from the scrubbed store.
"""
from __future__ import annotations

import json
import logging
import re
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

from great_expectations.checkpoint.actions import DataDocsAction, ValidationAction

from day12_SUITES_security import DAY12_PII_PATTERNS, DAY12_ROW_ID

DAY12_ID_KEYS = (DAY12_ROW_ID, "event_id", "finding_id")  # files: the shared index name; tables: their id column
DAY12_ID_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
DAY12_PII = re.compile("|".join(DAY12_PII_PATTERNS))

DAY12_LOG = logging.getLogger("day12.checkpoint")


DAY12_VALUE_KEYS = ("unexpected_list", "partial_unexpected_list", "partial_unexpected_counts", "unexpected_rows",
                    "partial_unexpected_index_list", "unexpected_index_query", "details")


def _index_ids(payload: dict) -> list:
    """Failing-row ids from unexpected_index_list, in either GX shape: one dict per row ({id: x, column: value}),
    or, with exclude_unexpected_values, one dict of id lists ({id: [x, y, ...]})."""
    ids = []
    for row in payload.get("unexpected_index_list") or []:
        key = next((k for k in DAY12_ID_KEYS if isinstance(row, dict) and k in row), None)
        if key is not None:
            value = row[key]
            ids.extend(value if isinstance(value, list) else [value])
    return [i if DAY12_ID_SHAPE.fullmatch(str(i)) and not DAY12_PII.search(str(i)) else f"withheld-{n}"
            for n, i in enumerate(ids, start=1)]  # an id that could be data is never written (files: row-<n> already)


def _mask_observed_columns(result) -> None:
    """The table-columns expectation reports the observed column names: those outside the schema by position."""
    observed = (result.result or {}).get("observed_value")
    if result.expectation_config.type == "expect_table_columns_to_match_set" and isinstance(observed, list):
        schema = set(result.expectation_config.kwargs.get("column_set") or [])
        result.result["observed_value"] = [c if c in schema or str(c).startswith("unexpected_column_")
                                           else f"unexpected_column_{n}" for n, c in enumerate(observed, start=1)]


def day12_scrub_result(result) -> None:
    """Strip every failing value from one expectation result, keeping only the ids of failing rows."""
    payload = result.result or {}
    ids = _index_ids(payload)
    for key in DAY12_VALUE_KEYS:
        payload.pop(key, None)
    if ids:
        payload["unexpected_index_list"] = [{DAY12_ROW_ID: ids}]  # GX's compact, value-free shape
    if result.expectation_config.type in ("expect_column_values_to_not_match_regex_list",):
        payload.pop("observed_value", None)
    result.result = payload
    _mask_observed_columns(result)


def day12_name_the_asset(run_result) -> None:
    """Data Docs print "Data asset:" from batch_spec["data_asset_name"], which GX 1.x fills only for 0.x-style
    batches; a fluent batch keeps the name in active_batch_definition. Copied over, every page names its dataset."""
    name = run_result.asset_name
    spec = run_result.meta.get("batch_spec")
    if name and (spec is None or isinstance(spec, dict)):
        run_result.meta["batch_spec"] = {**(spec or {}), "data_asset_name": name}


def day12_failed_ids(result) -> list[str]:
    return [str(i) for i in _index_ids(result.result or {})]


class day12_ScrubAction(ValidationAction):
    type: Literal["day12_scrub"] = "day12_scrub"

    def run(self, checkpoint_result, action_context=None):
        from great_expectations.data_context.data_context.context_factory import project_manager

        store = project_manager.get_validation_results_store()  # the context running this checkpoint
        for key, run_result in checkpoint_result.run_results.items():
            for result in run_result.results:
                day12_scrub_result(result)
            # the run's own time (fixed by the caller for reproducible docs) instead of GX's wall clock
            run_result.meta["validation_time"] = checkpoint_result.run_id.run_time.isoformat()
            run_result.meta.pop("batch_markers", None)
            day12_name_the_asset(run_result)
            store.set(key, run_result)  # overwrite what GX stored before the actions ran
        return {"scrubbed": len(checkpoint_result.run_results)}


class day12_DocsAction(DataDocsAction):
    """GX's UpdateDataDocsAction, but run where it stands in the list. GX 1.x moves its own docs action ahead of
    every other action, so pages were rendered before the scrub action had run (unscrubbed results, no asset name)."""

    type: Literal["day12_update_data_docs"] = "day12_update_data_docs"
    site_names: list[str] = []

    def run(self, checkpoint_result, action_context=None):
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        for key, run_result in checkpoint_result.run_results.items():
            self._build_data_docs(site_names=self.site_names,
                                  resource_identifiers=[key, ExpectationSuiteIdentifier(name=run_result.suite_name)])
        return {"sites": list(self.site_names)}


class day12_FailingIdsAction(ValidationAction):
    """Tables: the checkpoint counts every check first (result_format BASIC, no value asked for), and this action
    then fetches the failing rows' ids for the checks that failed only, each through its expectation's own GX
    index-list metric (one query per failed check). GX's COMPLETE format would scan the table twice more for
    every check, the passing ones too: once for the failing values (scrubbed anyway), once for the ids."""

    type: Literal["day12_failing_ids"] = "day12_failing_ids"
    id_column: str  # the table's own id column, naming failing rows
    max_ids: int  # failing ids fetched per check (GX's SQL engine caps at partial_unexpected_count); counts stay complete

    def run(self, checkpoint_result, action_context=None):
        from great_expectations.data_context.data_context.context_factory import project_manager

        definitions = {d.suite.name: d for d in checkpoint_result.checkpoint_config.validation_definitions}
        fetched = 0
        for run_result in checkpoint_result.run_results.values():
            failed = [r for r in run_result.results
                      if not r.success and not (r.exception_info or {}).get("raised_exception")]
            if not failed:
                continue
            try:
                batch_request = definitions[run_result.suite_name].batch_definition.build_batch_request()
                fetched += self._fetch_ids(project_manager.get_validator(batch_request=batch_request), failed)
            except Exception as exc:  # the counts and the verdict stand; the rows go unnamed, and the log says so
                DAY12_LOG.error("failing ids not fetched", extra={"suite": run_result.suite_name, "error": type(exc).__name__})
        return {"checks_with_ids": fetched}

    def _fetch_ids(self, validator, failed: list) -> int:
        """GX resolves the index-list metric of each failed map check (checks without rows to name get none)."""
        import copy

        runtime = {"result_format": {"result_format": "COMPLETE", "unexpected_index_column_names": [self.id_column],
                                     "exclude_unexpected_values": True, "partial_unexpected_count": self.max_ids,
                                     "include_unexpected_rows": False, "return_unexpected_index_query": False}}
        wanted = {}
        for result in failed:
            config = copy.deepcopy(result.expectation_config)
            config.kwargs["batch_id"] = validator.active_batch_id
            try:
                dependencies = config.to_domain_obj().get_validation_dependencies(
                    execution_engine=validator.execution_engine, runtime_configuration=runtime)
            except Exception as exc:  # one check's ids lost, never the others'
                DAY12_LOG.error("failing ids not fetched", extra={"check": config.description, "error": type(exc).__name__})
                continue
            for name, metric in dependencies.metric_configurations.items():
                if name.endswith(".unexpected_index_list"):
                    wanted[id(result)] = metric
        resolved, aborted = validator.compute_metrics(list(wanted.values()), runtime_configuration=runtime)
        for metric in wanted.values():
            if metric.id in aborted:  # the check's counts stand; its rows go unnamed, and the log says so
                DAY12_LOG.error("failing ids not fetched", extra={"metric": metric.metric_name})
        for result in failed:
            metric = wanted.get(id(result))
            if metric is not None and metric.id in resolved:
                result.result = {**(result.result or {}), "unexpected_index_list": resolved[metric.id],
                                 "unexpected_index_column_names": [self.id_column]}
        return sum(metric.id in resolved for metric in wanted.values())


def day12_dataset_of(run_result) -> str:
    return run_result.suite_name.removeprefix("day12_").removesuffix("_suite")


def day12_write_quarantine(checkpoint_result, quarantine_dir: Path) -> Path:
    """The failing row ids per dataset and expectation (with severity) in a quarantine file: ids, never values.

    Written by the caller after the checkpoint run rather than by a checkpoint action, so the stored checkpoint
    never holds the quarantine folder (a machine path when DAY12_QUARANTINE_DIR is absolute)."""
    entries, ids = [], {}
    for run_result in checkpoint_result.run_results.values():
        dataset = day12_dataset_of(run_result)
        ids.setdefault(dataset, set())
        for result in run_result.results:
            if result.success:
                continue
            failing = day12_failed_ids(result)
            ids[dataset].update(failing)
            entries.append({"dataset": dataset, "expectation": result.expectation_config.type,
                            "description": result.expectation_config.description,
                            "severity": (result.expectation_config.meta or {}).get("severity", "warning"),
                            "failing_ids": sorted(failing),
                            "unexpected_count": (result.result or {}).get("unexpected_count")})
    target = Path(quarantine_dir) / f"{checkpoint_result.run_id.run_name}_quarantine.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"run": checkpoint_result.run_id.run_name,
                                  "quarantined_ids": {d: sorted(i) for d, i in sorted(ids.items())},
                                  "failures": entries}, indent=2) + "\n")
    DAY12_LOG.info("quarantine written", extra={"run": checkpoint_result.run_id.run_name,
                                                "quarantined": sum(len(i) for i in ids.values())})
    return target


# The webhook URL is a secret: GX stores an action's fields in the checkpoint JSON, so the URL reaches the
# action through this run-scoped variable, set by the pipeline around one checkpoint run (never os.environ).
DAY12_SLACK_TARGET: ContextVar[str | None] = ContextVar("day12_slack_target", default=None)


@contextmanager
def day12_slack_target(url: str | None):
    token = DAY12_SLACK_TARGET.set(url)
    try:
        yield
    finally:
        DAY12_SLACK_TARGET.reset(token)


def day12_slack_error(exc) -> str:
    """What went wrong with a webhook post, by status or exception class: requests quotes the URL, and a webhook
    URL's path is its secret."""
    response = getattr(exc, "response", None)
    return f"Slack answered {response.status_code}" if response is not None else f"Slack unreachable ({type(exc).__name__})"


class day12_NotifyAction(ValidationAction):
    """A failed validation is always reported: to Slack when a webhook is configured, and in the log."""

    type: Literal["day12_notify"] = "day12_notify"

    def run(self, checkpoint_result, action_context=None):
        failed = [f"{day12_dataset_of(run)}: " + (r.expectation_config.meta or {}).get("severity", "warning") + ": "
                  + (r.expectation_config.description or "")
                  for run in checkpoint_result.run_results.values() for r in run.results if not r.success]
        if not failed:
            return {"notified": False}
        text = f"day12 data-quality gate failed ({checkpoint_result.run_id.run_name}): " + "; ".join(failed)
        DAY12_LOG.error("validation failed", extra={"run": checkpoint_result.run_id.run_name, "failures": len(failed),
                                                    "summary": "; ".join(failed)[:1000]})
        url = DAY12_SLACK_TARGET.get()
        if url:
            import requests

            try:
                response = requests.post(url, json={"text": text[:3000]}, timeout=10)
                response.raise_for_status()
            except requests.RequestException as exc:  # never silently: the log line above stands, and this one too
                error = day12_slack_error(exc)  # status or error type only: requests quotes the webhook URL
                DAY12_LOG.error("Slack notification failed", extra={"error": error})
                return {"notified": False, "error": error}
        return {"notified": True, "channel": "slack" if url else "log"}


DAY12_REMOTE_ASSET = r"https://great-expectations-web-assets\.s3[^\"')\s]*/([\w.-]+\.png)(?:\?[^\"')\s]*)?"


DAY12_RANDOM_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"  # uuid4 only


def day12_localise_docs(docs_dir: Path) -> int:
    """Make Data Docs pages local and reproducible.

    GX's remote image URLs carry a timestamp and the context id (a beacon whenever an auditor opens a
    page, and churn in every rebuild): point them at the site's bundled images. GX also gives collapsible
    sections random uuid4 ids on every render: number them by order of appearance instead.
    """
    import os
    import re

    docs_dir, changed = Path(docs_dir), 0
    for page in docs_dir.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        images = docs_dir / "static" / "images"

        def local(match) -> str:
            bundled = images / match.group(1)
            return os.path.relpath(bundled if bundled.is_file() else images / "logo-long.png", page.parent)

        updated = re.sub(DAY12_REMOTE_ASSET, local, html)
        numbering: dict[str, str] = {}
        updated = re.sub(DAY12_RANDOM_UUID, lambda m: numbering.setdefault(m.group(0), f"block-{len(numbering) + 1}"), updated)
        if updated != html:
            page.write_text(updated, encoding="utf-8")
            changed += 1
    return changed
