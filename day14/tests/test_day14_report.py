"""Rendering and MIME: what a recipient's mail client receives."""
import csv
import email
import email.policy
import io
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from day14_CONFIG_settings import day14_load_settings
from day14_DATA_operations import day14_Operations
from day14_KPI_definitions import day14_compute_kpis, day14_load_targets
from day14_MESSAGE_build import day14_build_message, day14_message_id, day14_recipients_for
from day14_REPORT_render import day14_format_value, day14_render_report

DAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 20, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from shared_synthetic_data import transport

    folder = tmp_path_factory.mktemp("ops")
    transport.generate(end_date=DAY).write(folder)
    targets = day14_load_targets(Path(__file__).resolve().parents[1] / "day14_kpi_targets.toml")
    return day14_compute_kpis(day14_Operations(folder / "transport", "Australia/Melbourne"), DAY, targets)


@pytest.fixture(scope="module")
def report(results):
    return day14_render_report(results, DAY, network_name="Test Network", generated_at=NOW)


def test_every_kpi_appears_with_a_worded_status(report, results):
    for result in results:
        assert result.label in report.html and result.label in report.text
    assert "MISSED" in report.html and "AT RISK" in report.html and "MET" in report.html
    assert report.subject == "Transport KPIs Sun 22 Nov 2026: 1 missed, 1 at risk"


def test_css_is_inlined_and_only_the_media_query_stays_in_a_style_tag(report):
    assert 'style="' in report.html
    style_block = report.html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert style_block.strip().startswith("@media") and style_block.count("@media") == 1
    assert ".kpis th { background" not in report.html  # the plain rule is gone from <style>...
    assert 'style="background: #eef2f6;' in report.html  # ...and sits on every header cell instead


def test_the_chart_is_a_png_by_content_id_and_its_alt_text_has_the_table_numbers(report, results):
    assert report.chart_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert f'src="cid:{report.chart_cid}"' in report.html
    assert "data:image" not in report.html and "<svg" not in report.html
    train = next(r for r in results if r.key == "train_punctuality")
    shown = day14_format_value(train.month_to_date, "%")
    assert f"Metro train punctuality {shown}" in report.chart_alt and shown in report.html


def test_the_csv_has_one_row_per_kpi_with_unrounded_values(report, results):
    rows = list(csv.DictReader(io.StringIO(report.csv_bytes.decode())))
    assert [r["kpi"] for r in rows] == [r.key for r in results]
    assert all(len(r["month_to_date"].split(".")[-1]) == 4 for r in rows if r["month_to_date"] not in ("", "inf"))


def _message(report, **settings_overrides):
    settings = day14_load_settings(env_file=None, **settings_overrides)
    recipients = day14_recipients_for(settings, report.missed)
    message = day14_build_message(report, sender=settings.sender_email, recipients=recipients,
                                  reply_to=settings.reply_to, report_date=DAY, now=NOW)
    return message, recipients


def test_mime_structure_is_mixed_alternative_related(report):
    message, _ = _message(report)
    parsed = email.message_from_bytes(bytes(message), policy=email.policy.default)

    def shape(part):
        if part.is_multipart():
            return (part.get_content_type(), [shape(p) for p in part.iter_parts()])
        return part.get_content_type()

    assert shape(parsed) == ("multipart/mixed", [
        ("multipart/alternative", ["text/plain", ("multipart/related", ["text/html", "image/png"])]),
        "text/csv"])
    png = next(p for p in parsed.walk() if p.get_content_type() == "image/png")
    assert png["Content-ID"] == f"<{report.chart_cid}>"


def test_headers_and_recipients_come_from_config_with_escalation_when_a_kpi_is_missed(report):
    message, recipients = _message(report, recipients="a@t.example,b@t.example", cc="c@t.example",
                                   bcc="archive@t.example", reply_to="team@t.example",
                                   escalation_recipients="boss@t.example")
    assert message["To"] == "a@t.example, b@t.example"
    assert message["Cc"] == "c@t.example, boss@t.example"  # escalation: a KPI was missed
    assert message["Reply-To"] == "team@t.example" and message["Date"]
    assert "22 Nov 2026" in message["Subject"]
    assert recipients.envelope == ("a@t.example", "b@t.example", "c@t.example", "boss@t.example", "archive@t.example")


def test_no_escalation_when_nothing_is_missed(report):
    settings = day14_load_settings(env_file=None)
    assert "duty-manager@transport.example" not in day14_recipients_for(settings, missed=()).envelope


def test_message_id_is_the_same_for_the_same_report_and_date():
    assert day14_message_id(DAY, "kpi@transport.example") == day14_message_id(DAY, "other@transport.example")
    assert day14_message_id(DAY, "kpi@transport.example") != day14_message_id(date(2026, 11, 21), "kpi@transport.example")
