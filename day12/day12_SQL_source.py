"""--source: validate a database table in place, with the same suites, through GX's SQL datasource.

    --source postgresql://user@host:5432/database/schema.table     (the password: DAY12_SQL_PASSWORD in config/.env)
    --source sqlite:///path/to/file.db/table

Every check runs in the database (GX compiles the expectations to SQL; the two custom ones have SQL
implementations in day12_SUITES_security): Python receives aggregates and the ids of failing rows, never
the table. A URL that carries a password is refused: a command line is visible to every local user (ps) and
kept in shell history and cron files. The password comes from the settings and is set on SQLAlchemy's URL object;
the stored GX config names an environment variable, not the connection string, and messages show the URL
without a password.
"""
from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from day12_INPUT_files import DAY12_DATASET_COLUMNS, day12_detect_dataset, day12_InputError

DAY12_LOG = logging.getLogger("day12.sql")
DAY12_SQL_CONNECTION_ENV = "DAY12_SQL_CONNECTION_STRING"  # what the stored datasource names instead of the URL
DAY12_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")  # a plain schema or table name (no quoting games)
DAY12_SQL_MAX_IDS = 10_000  # failing ids fetched per expectation from a table (GX caps at this); counts stay complete
DAY12_POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
DAY12_PASSWORD_REFUSED = ("--source: the URL carries a password, which a command line shows to every local user (ps) and "
                          "leaves in shell history and cron files; remove it and set DAY12_SQL_PASSWORD in config/.env "
                          "(or use ~/.pgpass)")

DAY12_SOURCE_USAGE = "--source: expected postgresql://user@host/database/schema.table or sqlite:///file.db/table"


@dataclass(frozen=True)
class day12_SqlSource:
    connection_string: str  # SQLAlchemy URL of the database, never with a password
    schema: str | None
    table: str
    dialect: str  # postgres | sqlite
    password: object = field(default=None, repr=False)  # a SecretStr (DAY12_SQL_PASSWORD), or None: libpq's ~/.pgpass

    def display(self) -> str:
        return f"{day12_redact_url(self.connection_string)}/{self.schema + '.' if self.schema else ''}{self.table}"

    def url(self):
        """The URL object SQLAlchemy connects with: the password set on it, never written into a string we show."""
        from sqlalchemy.engine import make_url

        url = make_url(self.connection_string)
        return url.set(password=self.password.get_secret_value()) if self.password and self.dialect == "postgres" else url


def day12_redact_url(text: str) -> str:
    """The URL as messages may show it: user, host, port and database; never a password, whether given as one,
    split by an unescaped @ (everything before the host's last @ is credentials) or as a query parameter."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(text)
    except Exception as exc:  # SQLAlchemy's parse errors quote the whole URL: only their type is shown
        return f"{text.partition(':')[0][:32]} database (unparseable URL: {type(exc).__name__})"
    host = (url.host or "").rpartition("@")[2]
    credentials = f"{url.username or ''}{':***' if url.password or '@' in (url.host or '') else ''}@" if url.username else ""
    return f"{url.drivername}://{credentials}{host}{f':{url.port}' if url.port else ''}/{url.database or ''}"


_CREDENTIALS = re.compile(r"[^:/]*:([^@]*)@")  # user:password@, as SQLAlchemy reads it (to the first @)


def _carries_password(text: str) -> bool:
    """user:secret@host, or a query parameter libpq takes as one (password=, sslpassword=). Read from the text: a URL
    SQLAlchemy cannot parse may carry one all the same. The whole text: a query may follow the table, and a URL may have
    no database or table at all."""
    rest = text.split("://", 1)[-1]
    credentials = _CREDENTIALS.match(rest)
    if credentials and credentials.group(1):
        return True
    query = rest[credentials.end() if credentials else 0:].partition("?")[2]
    return any("password" in key.lower() for part in re.split(r"[/?]", query) for key, _ in parse_qsl(part))


def day12_parse_source(text: str, password=None) -> day12_SqlSource:
    """postgresql://…/db/schema.table (schema defaults to public) or sqlite:///file.db/table; the PostgreSQL password
    (a SecretStr) from the settings."""
    base, _, target = text.rpartition("/")
    if text.startswith(DAY12_POSTGRES_SCHEMES):
        if _carries_password(text):
            raise day12_InputError(DAY12_PASSWORD_REFUSED)
        if "://" not in base:  # no /database/schema.table after the host
            raise day12_InputError(DAY12_SOURCE_USAGE)
        schema, _, table = target.rpartition(".")
        scheme, rest = base.split("://", 1)
        source = day12_SqlSource(f"postgresql+psycopg://{rest}", schema or "public", table, "postgres", password)
    elif text.startswith("sqlite:///"):
        source = day12_SqlSource(base, None, target, "sqlite")
    else:
        raise day12_InputError(DAY12_SOURCE_USAGE)
    try:  # refused here, with a message of ours: SQLAlchemy's own quote the whole URL
        from sqlalchemy.engine import make_url

        make_url(source.connection_string)
    except Exception as exc:
        raise day12_InputError(f"--source: not a database URL SQLAlchemy can read ({type(exc).__name__}): check the host, "
                               "port and that special characters in the user name are %-escaped") from None
    for name in filter(None, (source.schema, source.table)):
        if not DAY12_IDENTIFIER.fullmatch(name):
            raise day12_InputError(f"--source: {name[:64]!r} is not a plain schema or table name")
    return source


def day12_table_columns(source: day12_SqlSource) -> list[str]:
    """The table's column names, from the database catalogue (no rows read)."""
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(source.url())
    except (sa.exc.SQLAlchemyError, ValueError, ImportError) as exc:  # its message may quote the URL
        raise day12_InputError(f"{source.display()}: unusable database URL ({type(exc).__name__})") from None
    try:
        inspector = sa.inspect(engine)
        if not inspector.has_table(source.table, schema=source.schema):
            raise day12_InputError(f"{source.display()}: no such table")
        return [column["name"] for column in inspector.get_columns(source.table, schema=source.schema)]
    except sa.exc.SQLAlchemyError as exc:
        raise day12_InputError(f"{source.display()}: database unreachable ({type(exc).__name__})") from None
    finally:
        engine.dispose()


def _row_count(source: day12_SqlSource, suite_result) -> int:
    """The rows GX counted (every map check reports them), or a count of the table if no check got that far."""
    import sqlalchemy as sa

    counted = [n for r in suite_result.results if isinstance(n := (r.result or {}).get("element_count"), int)]
    if counted:
        return counted[0]
    engine = sa.create_engine(source.url())
    try:
        table = sa.table(source.table, schema=source.schema)
        with engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


def _table_batch(context, source: day12_SqlSource, dataset: str):
    """The table as a GX table asset of a SQL datasource whose connection string comes from the environment."""
    sources = context.data_sources
    name = f"day12_sql_{source.dialect}"
    add = sources.add_postgres if source.dialect == "postgres" else sources.add_sqlite
    try:
        datasource = sources.get(name)
    except KeyError:
        datasource = add(name, connection_string="${" + DAY12_SQL_CONNECTION_ENV + "}")
    try:
        asset = datasource.get_asset(dataset)
        if (asset.table_name, asset.schema_name) != (source.table, source.schema):
            datasource.delete_asset(dataset)
            raise LookupError(dataset)
    except LookupError:
        asset = datasource.add_table_asset(dataset, table_name=source.table, schema_name=source.schema)
    try:
        return asset.get_batch_definition("whole_table")
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_table("whole_table")


def day12_sql_checkpoint(context, source: day12_SqlSource, dataset: str):
    """A checkpoint per dataset for tables: failing rows are named by the table's own id column."""
    import great_expectations as gx

    from day12_ACTIONS_checkpoint import day12_DocsAction, day12_FailingIdsAction, day12_NotifyAction, day12_ScrubAction
    from day12_GATE_validation import DAY12_DOCS_SITE, DAY12_ID_COLUMNS, day12_stable_id, day12_suite

    definition = context.validation_definitions.add_or_update(gx.ValidationDefinition(
        name=f"day12_{dataset}_table_validation", id=day12_stable_id(f"{dataset}_table_validation"),
        data=_table_batch(context, source, dataset), suite=day12_suite(context, dataset)))
    return context.checkpoints.add_or_update(gx.Checkpoint(
        name=f"day12_{dataset}_table_checkpoint", validation_definitions=[definition],
        actions=[day12_FailingIdsAction(name="fetch_failing_ids", id_column=DAY12_ID_COLUMNS[dataset], max_ids=DAY12_SQL_MAX_IDS),
                 day12_ScrubAction(name="scrub_failing_values"),
                 day12_DocsAction(name="update_data_docs", site_names=[DAY12_DOCS_SITE]),  # after the scrub
                 day12_NotifyAction(name="notify_on_failure")],
        # counts first: BASIC bundles every check's count into shared scans, and a partial_unexpected_count of 0
        # makes GX's value queries LIMIT 0 (PostgreSQL reads no row); the first action fetches failing ids
        result_format={"result_format": "BASIC", "partial_unexpected_count": 0, "exclude_unexpected_values": True,
                       "include_unexpected_rows": False, "return_unexpected_index_query": False}))


def day12_run_table(settings, text: str, **run):
    """Validate one table: the same suite as its files, in the database. Outcome as for files (exit 3 if unusable).
    One run at a time per run folder (its GX project is shared with file runs)."""
    from day12_PIPELINE_run import day12_project_lock

    with day12_project_lock(settings):
        return _run_table(settings, text, **run)


def _run_table(settings, text: str, *, dataset: str | None = None, context=None, now: datetime | None = None,
               run_name: str | None = None):
    from great_expectations.core.run_identifier import RunIdentifier

    from day12_ACTIONS_checkpoint import day12_slack_target, day12_write_quarantine
    from day12_GATE_validation import day12_offline_docs, day12_progress_bars, day12_summarise
    from day12_PIPELINE_run import (DAY12_EXIT_INPUT, day12_claimed_run, day12_report_run, day12_run_context,
                                    day12_RunOutcome)
    from day12_SUITES_security import day12_runtime_parameters

    started = time.monotonic()
    try:
        source = day12_parse_source(text, settings.sql_password)
        columns = day12_table_columns(source)
        import pandas as pd

        dataset = day12_detect_dataset(pd.DataFrame(columns=columns), source.display(), dataset)
    except day12_InputError as exc:
        DAY12_LOG.error("table unusable", extra={"error": str(exc)})
        return day12_RunOutcome(DAY12_EXIT_INPUT, f"table could not be validated: {exc}")
    now = now or datetime.now(timezone.utc)
    # unique: a same-second run would overwrite this one; a Ctrl-C or a crash says so in the results file
    with day12_claimed_run(settings, now, run_name, [source.display()]) as run_name:
        os.environ[DAY12_SQL_CONNECTION_ENV] = source.url().render_as_string(hide_password=False)  # read by GX; never stored
        try:
            context = context or day12_run_context(settings)
            checkpoint = day12_sql_checkpoint(context, source, dataset)
            slack = settings.slack_webhook_url.get_secret_value() if settings.slack_webhook_url else None
            with day12_progress_bars(context), day12_slack_target(slack):
                outcome = checkpoint.run(expectation_parameters=day12_runtime_parameters(settings, now),
                                         run_id=RunIdentifier(run_name=run_name, run_time=now))
        finally:
            os.environ.pop(DAY12_SQL_CONNECTION_ENV, None)
        day12_write_quarantine(outcome, settings.quarantine_dir)
        day12_offline_docs(settings.run_dir / "data_docs")
        (suite_result,) = outcome.run_results.values()
        result = day12_summarise(dataset, suite_result)
        expected = set(DAY12_DATASET_COLUMNS[dataset])
        section = {"input": source.display(), "dataset": dataset, "rows": _row_count(source, suite_result),
                   "unexpected_columns": sum(c not in expected for c in columns), "success": result.success,
                   "max_failed_severity": result.max_failed_severity, "statistics": result.statistics,
                   "quarantined_ids": list(result.quarantined_ids), "expectations": list(result.expectations)}
        return day12_report_run(settings, run_name, [section], started)
