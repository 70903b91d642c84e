"""The DAG steps' outcome -> task-state mapping, run in the project's interpreter as the tasks run them (no Airflow).

A step that raises fails its task; SystemExit(99) is a skip. An outcome the ORCHESTRATOR reports with a non-zero
exit code must not end as success or skip: day11's ambiguous delivery, day14's degraded report.
"""
from __future__ import annotations

import importlib
import json
import os
from datetime import date

import pytest

from repo_helpers import ROOT

DAYS_ENV = ("DAY11_", "DAY14_")


@pytest.fixture
def day_env(monkeypatch):
    for day in ("day11", "day14"):
        monkeypatch.syspath_prepend(str(ROOT / day))
    for name in [n for n in os.environ if n.startswith(DAYS_ENV)]:
        monkeypatch.delenv(name)
    yield monkeypatch


def test_day11_an_ambiguous_delivery_fails_the_task_on_every_run_and_is_never_resent(day_env, tmp_path):
    day_env.setenv("DAY11_OUTPUT_DIR", str(tmp_path / "out"))
    day_env.setenv("DAY11_LEDGER_PATH", str(tmp_path / "ledger.sqlite"))
    from day11_DELIVERY_channels import AMBIGUOUS, day11_Delivery, day11_Ledger

    dag = importlib.import_module("day11_DAG_airflow")
    ledger = day11_Ledger(tmp_path / "ledger.sqlite")
    assert ledger.claim("2026-11-22", "slack", "earlier") is None
    ledger.settle("2026-11-22", "slack", "earlier", day11_Delivery(AMBIGUOUS, "Slack: no answer before the timeout"))
    ledger.close()
    (tmp_path / "payload.json").write_text(json.dumps({"text": "t", "blocks": []}))
    built = {"payload": str(tmp_path / "payload.json"), "email_html": "", "report_date": "2026-11-22"}
    for _ in range(2):
        with pytest.raises(RuntimeError, match="outcome unknown"):
            dag.day11_step_deliver("slack", built, "manual__1")
    assert not list((tmp_path / "out").glob("day11_slack_post_*.json"))  # the stand-in received nothing


def test_day14_a_degraded_report_is_sent_once_and_fails_send_on_every_try(day_env, tmp_path):
    from shared_synthetic_data import transport

    transport.generate(end_date=date(2026, 11, 22)).write(tmp_path / "gen")
    data = tmp_path / "gen" / "transport"
    for name in ("trips.txt", "stop_times.txt"):  # an empty timetable: most KPIs have no data
        path = data / "gtfs" / name
        path.write_text(path.read_text().splitlines()[0] + "\n")
    for name, value in {"DAY14_DATA_DIR": data, "DAY14_LEDGER_PATH": tmp_path / "ledger.sqlite",
                        "DAY14_OUTBOX_DIR": tmp_path / "outbox", "DAY14_LOG_PATH": tmp_path / "day14.log"}.items():
        day_env.setenv(name, str(value))
    dag = importlib.import_module("day14_DAG_airflow")
    rendered = dag.day14_step_render(dag.day14_step_compute("2026-11-23T00:00:00+00:00"))
    for _ in range(2):  # the first try sends, the retry finds it sent: both fail, "degraded"
        with pytest.raises(RuntimeError, match=r"degraded \(exit 4\)"):
            dag.day14_step_send(rendered, "manual__1")
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_day14_a_send_killed_mid_data_is_finished_by_airflows_last_retry_without_resending(day_env, tmp_path):
    """SIGKILL of the send task during SMTP DATA leaves its claim fresh and the recipient in DATA as `sending`. Airflow's
    retries of `send` must come after that claim goes stale (a dead run's claim is honoured for
    DAY14_CLAIM_TIMEOUT_MINUTES), else every retry finds "another run is sending" and the report is never finished.
    The last retry then sends to the recipients still owed and never to the one in DATA (it is ambiguous)."""
    from datetime import datetime, timedelta, timezone

    from shared_synthetic_data import transport

    transport.generate(end_date=date(2026, 11, 22)).write(tmp_path / "gen")
    for name, value in {"DAY14_DATA_DIR": tmp_path / "gen" / "transport", "DAY14_LEDGER_PATH": tmp_path / "ledger.sqlite",
                        "DAY14_OUTBOX_DIR": tmp_path / "outbox", "DAY14_LOG_PATH": tmp_path / "day14.log",
                        "DAY14_RECIPIENTS": "a@ops.example,b@ops.example,c@ops.example"}.items():
        day_env.setenv(name, str(value))
    dag = importlib.import_module("day14_DAG_airflow")
    from day14_CONFIG_settings import day14_load_settings
    from day14_LEDGER_sends import day14_LedgerKey, day14_SendLedger
    from day14_MESSAGE_build import DAY14_REPORT_NAME

    settings = day14_load_settings()
    rendered = dag.day14_step_render(dag.day14_step_compute("2026-11-23T00:00:00+00:00"))
    retry = dag.day14_send_retries(settings)
    assert retry["retries"] >= 1 and not retry["retry_exponential_backoff"]
    waited = retry["retry_delay"] * retry["retries"]  # what Airflow lets pass before the last try starts
    assert waited > timedelta(minutes=settings.claim_timeout_minutes)

    killed_at = datetime.now(timezone.utc) - waited  # the killed try: claimed, a@ was in DATA, b@ and c@ not reached
    ledger = day14_SendLedger(settings.ledger_path)
    key = day14_LedgerKey(DAY14_REPORT_NAME, rendered["report_date"])
    envelope = ("a@ops.example", "b@ops.example", "c@ops.example")
    assert ledger.claim(key, "<killed@x>", now=killed_at, envelope=envelope,
                        stale_after=timedelta(minutes=settings.claim_timeout_minutes)).outcome == "claimed"
    ledger.set_recipients(key, {"a@ops.example": ("sending", "DATA under way")}, now=killed_at)
    ledger.close()

    with pytest.raises(RuntimeError):  # partial: a@ is ambiguous and never re-sent, so the task stays red for a person
        dag.day14_step_send(rendered, "scheduled__1")
    sent = [m.read_text() for m in (tmp_path / "outbox").glob("*.eml")]
    assert len(sent) == 1 and "b@ops.example" in sent[0] and "c@ops.example" in sent[0]
    ledger = day14_SendLedger(settings.ledger_path)
    states = {address: row["status"] for address, row in ledger.recipients(key).items()}
    ledger.close()
    assert states["a@ops.example"] == "ambiguous"  # never re-sent: it may have arrived
    assert {states["b@ops.example"], states["c@ops.example"]} == {"delivered"}
