"""Delivery faults end truthfully: network failures are that channel's failure (the other still goes out),
secrets appear in no output, a timeout after sending is ambiguous and not re-posted without --force,
concurrent runs deliver once, Retry-After in both forms with a cap, one retry policy, mrkdwn escaping,
Slack's limits in code points, and one cutting rule shared with the n8n export."""
import json
import os
import socket
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from email.utils import format_datetime

import pytest

from day11_BLOCKKIT_message import DAY11_MAX_SECTION_TEXT, day11_blocks, day11_cut, day11_mrkdwn, day11_payload, day11_violations
from day11_CONFIG_settings import DAY11_DIR, day11_load_settings
from day11_KPI_report import day11_build_report
from day11_PIPELINE_report import day11_run, day11_smtp_sink
from day11_SOURCES_google import day11_CampaignDay, day11_SiteDay
from day11_STANDIN_servers import day11_standin, day11_StandinState

DAY = date(2026, 11, 22)
SECRET_PATH = "/services/T0SECRET1/B0SECRET2/hooksecretXYZ789"
WORKFLOW = json.loads((DAY11_DIR / "workflows" / "day11_retail_report_workflow.json").read_text())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _settings(tmp_path, **kw):
    return day11_load_settings(env_file=None, output_dir=tmp_path / "out", ledger_path=tmp_path / "ledger.sqlite", **kw)


def _run(tmp_path, state, *, settings=None, slack_url=None, force=False, waits=None):
    settings = settings or _settings(tmp_path)
    with day11_standin(DAY, settings.output_dir, state=state) as base, day11_smtp_sink(settings.output_dir) as smtp:
        urls = {"ads": base, "ga4": base, "slack": slack_url or f"{base}/slack/webhook", "smtp": (*smtp, "none")}
        return day11_run(settings, report_date=DAY, endpoints=urls, force=force,
                         sleeper=waits.append if waits is not None else (lambda s: None))


def _mails(tmp_path):
    return list((tmp_path / "out").glob("day11_email_*.eml"))


def test_a_refused_slack_is_that_channels_failure_and_no_output_holds_the_webhook_secret(tmp_path):
    """The ORCHESTRATOR as cron runs it; every byte it prints or writes is searched for the secret."""
    webhook = f"http://127.0.0.1:{_free_port()}{SECRET_PATH}"
    env = {**os.environ, "DAY11_SLACK_WEBHOOK_URL": webhook, "DAY11_OUTPUT_DIR": str(tmp_path / "out"),
           "DAY11_LEDGER_PATH": str(tmp_path / "state" / "ledger.sqlite"), "DAY11_GOOGLE_CLIENT_ID": "cid",
           "DAY11_GOOGLE_CLIENT_SECRET": "clientsecretABC", "DAY11_GOOGLE_REFRESH_TOKEN": "1//refreshSECRETtoken99",
           "DAY11_GOOGLE_TOKEN_URI": f"http://127.0.0.1:{_free_port()}/token"}
    run = subprocess.run([sys.executable, str(DAY11_DIR / "day11_ORCHESTRATOR_retail_report.py"), "--date", str(DAY)],
                         env=env, capture_output=True, text=True, timeout=120, cwd=DAY11_DIR.parent)
    # the token endpoint is down too: exit 3, one line; then the same with no OAuth, so Slack is tried
    assert run.returncode == 3 and len(run.stdout.strip().splitlines()) == 1
    outputs = [run.stdout, run.stderr]
    for name in ("DAY11_GOOGLE_CLIENT_ID", "DAY11_GOOGLE_CLIENT_SECRET", "DAY11_GOOGLE_REFRESH_TOKEN", "DAY11_GOOGLE_TOKEN_URI"):
        env.pop(name)
    run = subprocess.run([sys.executable, str(DAY11_DIR / "day11_ORCHESTRATOR_retail_report.py"), "--date", str(DAY)],
                         env=env, capture_output=True, text=True, timeout=120, cwd=DAY11_DIR.parent)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "slack: FAILED (Slack: connection refused" in run.stdout and "email: delivered" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    outputs += [run.stdout, run.stderr]
    outputs += [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".sqlite"]
    outputs += [str(row) for row in __import__("sqlite3").connect(tmp_path / "state" / "ledger.sqlite").execute(
        "SELECT * FROM day11_claims")]
    for text in outputs:
        for secret in ("hooksecretXYZ789", "B0SECRET2", "clientsecretABC", "refreshSECRETtoken99"):
            assert secret not in text


def test_a_timeout_after_sending_is_ambiguous_never_reposted_and_force_resends(tmp_path):
    state = day11_StandinState(slack_script=[("hang", 3)])
    settings = _settings(tmp_path, slack_timeout_s=0.5)
    first = _run(tmp_path, state, settings=settings)
    assert first.exit_code == 4 and "slack: AMBIGUOUS (Slack: no answer before the timeout" in first.message
    assert "email: delivered" in first.message and len(state.posts) == 1
    again = _run(tmp_path, state, settings=settings)
    assert "slack: outcome unknown since an earlier run" in again.message and len(state.posts) == 1
    assert again.exit_code == 4  # the date's Slack outcome is still unknown: no green re-run hides it
    assert "email: already delivered" in again.message and len(_mails(tmp_path)) == 1
    forced = _run(tmp_path, state, settings=settings, force=True)
    assert forced.exit_code == 0 and len(state.posts) == 2


def test_a_refused_slack_is_retried_by_the_next_run(tmp_path):
    state = day11_StandinState()
    failed = _run(tmp_path, state, slack_url=f"http://127.0.0.1:{_free_port()}{SECRET_PATH}")
    assert failed.exit_code == 1 and "email: delivered" in failed.message and SECRET_PATH not in failed.message
    retried = _run(tmp_path, state)
    assert "slack: delivered" in retried.message and "email: already delivered" in retried.message


def test_two_runs_at_the_same_moment_deliver_once(tmp_path):
    state = day11_StandinState(slack_delay_s=1.0)
    outcomes = []
    settings = _settings(tmp_path)
    with day11_standin(DAY, settings.output_dir, state=state) as base, day11_smtp_sink(settings.output_dir) as smtp:
        urls = {"ads": base, "ga4": base, "slack": f"{base}/slack/webhook", "smtp": (*smtp, "none")}
        runs = [threading.Thread(target=lambda: outcomes.append(day11_run(settings, report_date=DAY, endpoints=urls)))
                for _ in range(2)]
        for run in runs:
            run.start()
        for run in runs:
            run.join(60)
    assert len(state.posts) == 1 and len(_mails(tmp_path)) == 1
    assert len(outcomes) == 2 and all(o.exit_code == 0 for o in outcomes), [o.message for o in outcomes]
    assert sum(o.message.count("slack: delivered") for o in outcomes) == 1


def test_retry_after_as_an_http_date_is_waited(tmp_path):
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    state, waits = day11_StandinState(slack_script=[(429, {"Retry-After": when}, "rate_limited")]), []
    outcome = _run(tmp_path, state, waits=waits)
    assert outcome.exit_code == 0 and len(state.posts) == 1
    assert len(waits) == 1 and 25 <= waits[0] <= 30


def test_a_retry_after_beyond_the_cap_fails_that_channel_at_once(tmp_path):
    state, waits = day11_StandinState(slack_script=[(429, {"Retry-After": "3600"}, "rate_limited")]), []
    outcome = _run(tmp_path, state, waits=waits)
    assert outcome.exit_code == 1 and "Slack answered 429: rate_limited (Retry-After 3600 s is beyond the 60 s cap)" \
        in outcome.message
    assert waits == [] and "email: delivered" in outcome.message


def test_google_and_slack_share_one_retry_policy(tmp_path):
    google_waits, slack_waits = [], []
    _run(tmp_path / "g", day11_StandinState(fail_ads_with=503), waits=google_waits)
    _run(tmp_path / "s", day11_StandinState(slack_script=[(503, {}, "x")] * 3), waits=slack_waits)
    assert google_waits == slack_waits == [0.0, 2.0]  # urllib3's backoff for both


HOSTILE = ["<!channel> sale", "<https://evil.example|click me>", "<@U024BE7LH> & <#C0 >", "Tom & Jerry > Kids"]


def _report(names, spend="100"):
    campaigns = [day11_CampaignDay(DAY, str(i), name, Decimal(spend), 1000, 100, Decimal(5), Decimal(300 + i))
                 for i, name in enumerate(names)]
    return day11_build_report(DAY, campaigns, [day11_SiteDay(DAY, 100, 80, 5, Decimal(10))], currency="USD",
                              roas_drop_pct=20, spend_spike_pct=30)


def _mrkdwn_texts(blocks):
    for block in blocks:
        for text in [block.get("text")] + block.get("fields", []) + block.get("elements", []):
            if text and text.get("type") == "mrkdwn":
                yield text["text"]


def test_hostile_campaign_names_are_escaped_in_every_mrkdwn_value():
    texts = list(_mrkdwn_texts(day11_blocks(_report(HOSTILE))))
    joined = "\n".join(texts)
    assert "<" not in joined and ">" not in joined
    assert "&lt;!channel&gt; sale" in joined and "Tom &amp; Jerry &gt; Kids" in joined
    assert "&" not in joined.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")


def test_long_names_are_cut_within_their_line_so_every_line_keeps_its_figures():
    names = [f"{n} " + "Winter Coats & Boots 🧥 " * 300 for n in "ABCD"]
    blocks = day11_blocks(_report(names))
    assert not day11_violations(blocks)
    for title in ("Top 3", "Bottom 3"):
        (section,) = [b for b in blocks if b.get("text", {}).get("text", "").startswith(f"*{title}")]
        lines = section["text"]["text"].splitlines()[1:]
        assert len(lines) == 3 and all(line.endswith("x on USD 100.00") for line in lines), lines
        assert all("…:" in line for line in lines)


def test_slack_limits_are_counted_in_code_points_like_slack():
    emoji = "🛍️" * 1500  # 3000 code points, 6000 UTF-16 units
    assert not day11_violations([{"type": "section", "text": {"type": "mrkdwn", "text": emoji}}])
    assert day11_violations([{"type": "section", "text": {"type": "mrkdwn", "text": emoji + "x"}}])
    cut = day11_cut("😀" * 4000, DAY11_MAX_SECTION_TEXT)
    assert len(cut) == 3000 and cut.endswith("😀…")
    assert day11_cut("a" * 10 + "&amp;b", 12) == "a" * 10 + "…"  # never half an entity


def _node_code(name):
    (node,) = [n for n in WORKFLOW["nodes"] if n["name"] == name]
    return node["parameters"]["jsCode"]


CUT_CASES = ["a\nb\u202ec\u2028d\x00e\tf\u2067g\u200bh",  # controls and bidi marks: spaces in both
             "plain", "😀" * 30, "e\u0301" * 30, "a😀" * 20, "🇬🇧" * 12 + "x" * 10, "&<>" * 20, "Kids & Toys " * 5]


@pytest.mark.skipif(not __import__("shutil").which("node"), reason="needs Node.js")
def test_the_export_cuts_and_escapes_exactly_like_the_mirror():
    """The same strings through the export's own `cut`/`esc` lines (run by Node) and the mirror's functions."""
    code = _node_code("Build Block Kit message")
    lines = [line for line in code.splitlines() if line.startswith(("const cut =", "const esc ="))]
    assert len(lines) == 2
    cases = [(text, limit) for text in CUT_CASES for limit in (5, 11, 24, 40)]
    script = "\n".join(lines) + f"\nconsole.log(JSON.stringify({json.dumps(cases)}.map(([t, n]) => cut(esc(t), n))));"
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [day11_cut(day11_mrkdwn(t), n) for t, n in cases]
    assert all("\ufffd" not in text for text in json.loads(done.stdout))


class _MisbehavingSmtp:
    """aiosmtpd on loopback scripted per message: 'hang' (no reply to DATA), 'drop' (close after DATA), 'ok'."""

    def __init__(self, script):
        self.script, self.received = list(script), []

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        self.received.append(envelope.content)
        mode = self.script.pop(0) if self.script else "ok"
        if mode == "hang":
            await asyncio.sleep(3)
        elif mode == "drop":
            server.transport.close()
        return "250 OK"


@pytest.mark.parametrize("mode", ["hang", "drop"])
def test_an_smtp_fault_after_data_is_ambiguous_never_resent_and_force_resends(tmp_path, mode):
    from aiosmtpd.controller import Controller

    handler = _MisbehavingSmtp([mode])
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        settings = _settings(tmp_path, smtp_timeout_s=1.0)
        state = day11_StandinState()

        def run(force=False):
            with day11_standin(DAY, settings.output_dir, state=state) as base:
                urls = {"ads": base, "ga4": base, "slack": f"{base}/slack/webhook",
                        "smtp": ("127.0.0.1", controller.port, "none")}
                return day11_run(settings, report_date=DAY, endpoints=urls, force=force, sleeper=lambda s: None)

        first = run()
        assert first.exit_code == 4 and "email: AMBIGUOUS" in first.message and "slack: delivered" in first.message
        assert len(handler.received) == 1
        again = run()
        assert again.exit_code == 4 and "email: outcome unknown since an earlier run" in again.message  # still unknown
        assert len(handler.received) == 1
        forced = run(force=True)
        assert forced.exit_code == 0 and "email: delivered" in forced.message and len(handler.received) == 2
    finally:
        controller.stop()


@pytest.mark.parametrize("value", ["soon", "-5", "1.5", "Mon, 99 Foo 2026"])
def test_a_429_with_an_unreadable_retry_after_is_a_failure_retried_by_backoff_not_an_ambiguous_post(tmp_path, value):
    """A 429 is a sure refusal whatever its Retry-After says; an unreadable value means urllib3's own backoff."""
    state, waits = day11_StandinState(slack_script=[(429, {"Retry-After": value}, "rate_limited")] * 3), []
    outcome = _run(tmp_path, state, waits=waits)
    assert outcome.exit_code == 1 and "slack: FAILED (Slack answered 429: rate_limited" in outcome.message
    assert waits == [0.0, 2.0] and not state.posts
    assert "slack: delivered" in _run(tmp_path, state).message  # a failure: the next run sends


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_from_the_webhook_is_not_followed_the_report_goes_nowhere_else(tmp_path, status):
    state = day11_StandinState(slack_script=[(status, {"Location": "/slack/webhook"}, ""), (200, {}, "ok")])
    outcome = _run(tmp_path, state)
    assert outcome.exit_code == 1 and f"slack: FAILED (Slack answered {status}" in outcome.message
    assert not state.posts


def test_a_redirect_from_a_google_api_is_a_source_failure(tmp_path):
    state = day11_StandinState(fail_ads_with=302)
    outcome = _run(tmp_path, state)
    assert outcome.exit_code == 3 and "HTTP 302" in outcome.message and not state.posts


def test_newlines_and_bidi_controls_in_names_cannot_forge_lines_or_reverse_figures():
    """A name is one line of plain text: control characters, line separators and bidi overrides become spaces."""
    names = ["Shoes\n• Fake campaign: 99.00x on USD 1.00", "Kids\u202e Toys", "A\u2028B\u2029C", "Tab\there\r",
             "Iso\u2066late\u2069", "Mark\u200fRTL", "ok"]
    texts = list(_mrkdwn_texts(day11_payload(_report(names))["blocks"]))
    for section in [t for t in texts if t.startswith(("*Top", "*Bottom"))]:
        lines = section.split("\n")
        assert len(lines) == 4 and all(line.startswith("• ") and " on USD " in line for line in lines[1:]), section
    forbidden = set("\r\t\x00\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
    assert not forbidden & set("".join(texts))
    assert "Kids  Toys" in "".join(texts) or "Kids Toys" in "".join(texts)


def test_a_slack_answer_quoting_the_webhook_path_leaves_no_secret_in_the_ledger_or_message(tmp_path):
    state = day11_StandinState(slack_script=[(404, {}, "no_service: /slack/webhook ya29.tokenLIKEvalue")])
    outcome = _run(tmp_path, state)
    assert outcome.exit_code == 1 and "/slack/webhook" not in outcome.message
    rows = [str(r) for r in __import__("sqlite3").connect(tmp_path / "ledger.sqlite").execute("SELECT * FROM day11_claims")]
    assert rows and not any("/slack/webhook" in r or "ya29.tokenLIKE" in r for r in rows), rows


def test_a_run_killed_between_claim_and_settle_leaves_a_claim_that_blocks_until_force(
        tmp_path, run_while_slack_holds_the_post):
    """kill -9 while Slack holds the post: the claim stays, a later run sends nothing and says so, --force sends."""
    import signal
    import sqlite3

    run, state, ledger, base, smtp = run_while_slack_holds_the_post
    run.send_signal(signal.SIGKILL)
    run.wait(30)
    assert len(state.posts) == 1
    rows = dict(sqlite3.connect(ledger).execute("SELECT channel, state FROM day11_claims").fetchall())
    assert rows == {"slack": "claimed"}  # e-mail goes after Slack: never claimed
    settings = day11_load_settings(env_file=None, output_dir=tmp_path / "out", ledger_path=ledger)
    urls = {"ads": base, "ga4": base, "slack": f"{base}/slack/webhook", "smtp": (*smtp, "none")}
    again = day11_run(settings, report_date=DAY, endpoints=urls, sleeper=lambda s: None)
    assert "slack: claimed by another run" in again.message and "email: delivered" in again.message
    assert len(state.posts) == 1
    forced = day11_run(settings, report_date=DAY, endpoints=urls, force=True, sleeper=lambda s: None)
    assert "slack: delivered" in forced.message and len(state.posts) == 2


def test_the_standins_never_overwrite_a_message_they_received_before(tmp_path):
    """Each run (and each of two report dates run at once, as Airflow may) has its own stand-ins writing to the same
    folder: a later one numbered its posts from 1 again and named e-mails by the second, replacing delivered ones."""
    import json
    import smtplib
    from datetime import date
    from email.message import EmailMessage

    import requests

    from day11_PIPELINE_report import day11_smtp_sink
    from day11_STANDIN_servers import DAY11_STANDIN_SLACK_PATH, day11_standin

    for n in range(2):
        with day11_standin(date(2026, 11, 22), tmp_path) as base:
            assert requests.post(base + DAY11_STANDIN_SLACK_PATH, json={"text": f"post {n}"}, timeout=10).ok
        with day11_smtp_sink(tmp_path) as (host, port), smtplib.SMTP(host, port, timeout=10) as client:
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = "a@x.example", "b@x.example", f"mail {n}"
            message.set_content("x")
            client.send_message(message)
    posts = sorted(json.loads(p.read_text())["text"] for p in tmp_path.glob("day11_slack_post_*.json"))
    assert posts == ["post 0", "post 1"]
    assert sorted(p.read_text().split("Subject: ")[1].split("\n")[0] for p in tmp_path.glob("day11_email_*.eml")) == [
        "mail 0", "mail 1"]
    assert (tmp_path / "day11_slack_post_001.json").is_file()  # numbering still starts at 1 in an empty folder
