"""The Airflow-side helpers that need no Airflow: what a failure notification may say."""
from airflow_support.week_dags import short_error


class AirflowException(Exception):
    pass


def test_the_failure_text_is_the_steps_reason_with_url_paths_cut():
    exc = AirflowException("Process returned non-zero exit status 1.\nHTTPSConnectionPool(host='hooks.slack.com', "
                           "port=443): Max retries exceeded with url: /services/T000/B000/XXXXSECRET (Caused by x)\n")
    text = short_error(exc)
    assert text.startswith("AirflowException: HTTPSConnectionPool(host='hooks.slack.com'")
    assert "XXXXSECRET" not in text and "/services" not in text


def test_a_url_in_the_message_keeps_its_host_only_and_the_text_is_bounded():
    text = short_error(RuntimeError("https://hooks.slack.com/services/T1/B2/SECRET?x=1: 500 " + "y" * 1000))
    assert "SECRET" not in text and "https://hooks.slack.com/..." in text and len(text) <= 300
    assert short_error(None) == "unknown error"
