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
