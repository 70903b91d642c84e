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


def test_each_dag_file_imports_in_the_projects_interpreter_for_its_steps_only():
    """The tasks import their steps from the DAG file with the project's interpreter, where Airflow is absent."""
    import importlib.util


    for day in ("day11", "day12", "day13", "day14"):
        module = importlib.import_module(f"{day}_DAG_airflow")
        assert callable(getattr(module, f"{day}_step_notify_failure"))
        if importlib.util.find_spec("airflow") is None:
            assert not hasattr(module, "dag"), f"{day}: the DAG half ran without Airflow"
