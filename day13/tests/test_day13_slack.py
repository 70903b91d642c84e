"""Slack mrkdwn: & < > escaped in the section and the fallback text; a long group keeps '… and N more'."""
from day13_NOTIFY_receivers import day13_Notification, day13_slack_payload


def test_control_characters_in_alert_values_are_shown_never_acted_on(run, db, drop, make_alert):
    drop("a.json", [make_alert(1, alert_type="sanctions_hit", match_score="99", entity_id="<!channel> & <@U123>")])
    run()
    import json

    payload = json.loads(db.execute("SELECT payload FROM day13_slack_outbox").fetchone()["payload"])
    section = payload["blocks"][1]["text"]["text"]
    assert "<!channel>" not in section and "&lt;!channel&gt; &amp; &lt;@U123&gt;" in section
    assert "<" not in payload["text"]


def test_the_fallback_text_is_escaped():
    note = day13_Notification("r", "2 alerts: <!here> & co", ("x",), ("f",))
    assert day13_slack_payload("#c", note)["text"] == "2 alerts: &lt;!here&gt; &amp; co"


def test_a_long_group_cut_to_slacks_limit_keeps_its_and_n_more_line():
    lines = tuple(f"High: {'<' * 50} line {n}" for n in range(40))  # escaping makes each line ~4x longer
    note = day13_Notification("r", "title", lines, tuple("f" * 40), more=60)
    text = day13_slack_payload("#c", note)["blocks"][1]["text"]["text"]
    assert len(text) <= 2_900
    shown = text.count("line ")
    assert shown < 40 and text.endswith(f"… and {60 + 40 - shown} more")


def test_an_unreachable_webhook_never_puts_its_secret_url_in_the_audit_or_the_log(run, db, drop, make_alert, caplog):
    import socket

    from pydantic import SecretStr

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe closes
    secret = "T0000/B0000/s3cr3tWebhookToken"
    drop("a.json", [make_alert(1, alert_type="sanctions_hit", match_score="99")])
    summary = run(slack_webhook_url=SecretStr(f"http://127.0.0.1:{port}/services/{secret}"))
    assert summary.notifications_failed >= 1
    stored = " ".join(str(tuple(r)) for table in ("day13_audit", "day13_outbox")
                      for r in db.execute(f"SELECT * FROM {table}"))
    assert "ConnectionError" in stored and secret not in stored
    assert "delivery failed" in caplog.text and secret not in caplog.text
