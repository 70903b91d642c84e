"""The client report page (screenshotted by the evidence script): built from the database, every value escaped."""
from datetime import datetime, timezone

from day13_REPORT_page import day13_report_html
from day13_STORE_audit import day13_Store


def test_the_report_page_shows_states_sla_routing_and_one_alert_trail_with_values_escaped(settings, run, drop, make_alert):
    drop("a.json", [make_alert(1, entity_id="<script>alert(1)</script>", alert_type="sanctions_hit",
                               jurisdiction="IR"), make_alert(2, entity_id="ENT-2")])
    drop("b.json", b"[{")  # quarantined whole
    run()
    store = day13_Store.open(settings.audit_log_path)
    try:
        page = day13_report_html(store, "demo <b>summary</b>", datetime(2026, 12, 2, tzinfo=timezone.utc))
    finally:
        store.close()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "demo &lt;b&gt;summary&lt;/b&gt;" in page
    assert "audit chain intact" in page and "stored 0" in page
    assert "sanctions-slack" in page and "aml-email" in page  # the receivers each alert went to
    assert "truncated or invalid JSON" in page  # the quarantined file, with its reason
    assert "audit trail: Critical sanctions_hit" in page and "severity=Critical" in page and "routed" in page
