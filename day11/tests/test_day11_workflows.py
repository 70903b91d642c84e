"""The n8n exports, checked as files: triggers, error handling, and nothing secret inside."""
import json
import re
from pathlib import Path

import pytest

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"
MAIN = json.loads((WORKFLOWS / "day11_retail_report_workflow.json").read_text())
ERROR = json.loads((WORKFLOWS / "day11_error_handler_workflow.json").read_text())
SECRET_PATTERNS = [
    r"xox[abposr]-[0-9A-Za-z-]+", r"hooks\.slack\.com/services/", r"AKIA[0-9A-Z]{16}", r"ya29\.[0-9A-Za-z_-]+",
    r"Bearer\s+[0-9A-Za-z._-]{8,}", r"-----BEGIN [A-Z ]*PRIVATE KEY-----", r"\"(password|apiKey|accessToken|token)\"\s*:",
    r"SG\.[0-9A-Za-z_-]{16,}", r"whsec_[0-9A-Za-z+/=]{16,}",
]


def _nodes(workflow, kind=None):
    return [n for n in workflow["nodes"] if kind is None or n["type"] == kind]


@pytest.mark.parametrize("workflow", [MAIN, ERROR], ids=["main", "error_handler"])
def test_no_secret_and_credentials_referenced_by_id_and_name_only(workflow):
    text = json.dumps(workflow)
    for pattern in SECRET_PATTERNS:
        assert not re.search(pattern, text), pattern
    for node in _nodes(workflow):
        for credential in (node.get("credentials") or {}).values():
            assert set(credential) == {"id", "name"}, node["name"]


@pytest.mark.parametrize("workflow", [MAIN, ERROR], ids=["main", "error_handler"])
def test_ids_fit_the_cli_and_node_names_are_unique(workflow):
    assert len(workflow["id"]) <= 21
    names = [n["name"] for n in workflow["nodes"]]
    assert len(names) == len(set(names))


def test_schedule_at_eight_utc_and_a_manual_run_now_feed_the_same_chain():
    (schedule,) = _nodes(MAIN, "n8n-nodes-base.scheduleTrigger")
    assert schedule["parameters"]["rule"]["interval"][0]["expression"] == "0 8 * * *"
    assert MAIN["settings"]["timezone"] == "UTC"
    (manual,) = _nodes(MAIN, "n8n-nodes-base.manualTrigger")
    first = {MAIN["connections"][t["name"]]["main"][0][0]["node"] for t in (schedule, manual)}
    assert first == {"Report window"}


def test_every_http_node_retries_and_routes_its_errors_to_the_alert_branch():
    """n8n's retryOnFail repeats on any error (a timeout after the POST went out too), at most 5 s apart and
    blind to Retry-After: the reads retry, the Slack post does not (a repeat could post twice)."""
    alert = "Alert: report failed"
    for node in _nodes(MAIN, "n8n-nodes-base.httpRequest"):
        if node["name"] == "Post to Slack":
            assert not node.get("retryOnFail")
        else:
            assert node.get("retryOnFail") and node.get("maxTries", 0) >= 2 and node.get("waitBetweenTries"), node["name"]
            assert node["waitBetweenTries"] <= 5000  # n8n's own ceiling; below DAY11_RETRY_AFTER_CAP_S
        if node["name"] == alert:
            continue
        assert node.get("onError") == "continueErrorOutput", node["name"]
        error_output = MAIN["connections"][node["name"]]["main"][1]
        assert [t["node"] for t in error_output] == [alert], node["name"]
    urls = [n["parameters"]["url"] for n in _nodes(MAIN, "n8n-nodes-base.httpRequest")]
    assert all(url.startswith("={{ $env.DAY11_") for url in urls)  # the same export runs on real APIs or stand-ins


def test_the_error_workflow_is_wired_and_reports_workflow_node_error_and_execution():
    assert MAIN["settings"]["errorWorkflow"] == ERROR["id"]
    (trigger,) = _nodes(ERROR, "n8n-nodes-base.errorTrigger")
    body = _nodes(ERROR, "n8n-nodes-base.httpRequest")[0]["parameters"]["jsonBody"]
    for part in ("$json.workflow.name", "lastNodeExecuted", "error", "$json.execution.id"):
        assert part in body
    assert ERROR["connections"][trigger["name"]]["main"][0][0]["node"] == "Alert Slack"


def test_the_canvas_explains_itself():
    assert len(_nodes(MAIN, "n8n-nodes-base.stickyNote")) >= 2
    assert {"Fetch Google Ads campaigns", "Fetch GA4 report", "Compute KPIs", "Build Block Kit message",
            "Post to Slack", "Email the report"} <= {n["name"] for n in MAIN["nodes"]}


def _redaction_source(workflow, node_name):
    (node,) = _nodes_named(workflow, node_name)
    body = node["parameters"]["jsonBody"]
    start, end_marker = body.index("(function day11_redact("), "/* end day11_redact */ })"
    return body[start:body.index(end_marker) + len(end_marker)]


def _nodes_named(workflow, name):
    return [n for n in workflow["nodes"] if n["name"] == name]


REDACT_CASES = [
    "POST to http://hooks.example/services/T0AAA/B0BBB/secretXYZ failed: ECONNREFUSED",
    "Forbidden - 403 for /services/T0AAA/B0BBB/secretXYZ?x=1",
    "401 - {\"error\": \"invalid token ya29.a0AfH6SMBx-abc_def.123\"}",
    "refresh failed for 1//0gLongRefreshTOKENvalue_-x",
    "header Authorization: Bearer abc.DEF-ghi was rejected",
    "plain message & <tags> stay",
]


@pytest.mark.skipif(not __import__("shutil").which("node"), reason="needs Node.js")
@pytest.mark.parametrize("workflow,node_name", [(MAIN, "Alert: report failed"), (ERROR, "Alert Slack")],
                         ids=["main", "error_handler"])
def test_the_alerts_redact_webhook_urls_and_tokens_like_the_mirror(workflow, node_name):
    import subprocess

    from day11_LOG_setup import day11_redact, day11_register_secret

    webhook = "http://hooks.example/services/T0AAA/B0BBB/secretXYZ"
    day11_register_secret(webhook)
    script = (f"const f = {_redaction_source(workflow, node_name)};\n"
              f"console.log(JSON.stringify({json.dumps(REDACT_CASES)}.map((t) => f(t, {json.dumps(webhook)}))));")
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    redacted = json.loads(done.stdout)
    assert redacted == [day11_redact(t) for t in REDACT_CASES]
    assert not any(s in "".join(redacted) for s in ("secretXYZ", "B0BBB", "ya29.", "1//0g", "abc.DEF"))
    assert redacted[-1] == REDACT_CASES[-1]


def test_the_readme_diagram_says_what_the_export_does_on_error():
    """Each `X -- label --> Alert` edge of the README's workflow diagram names the nodes whose error output reaches
    the alert, and says "after N tries" only for nodes that retry N times, "no retry" only for those that do not."""
    readme = (WORKFLOWS.parent / "README.md").read_text()
    diagram = re.search(r"## The n8n workflows\s+```mermaid\n(.*?)```", readme, re.S).group(1)
    labels = {key: re.sub(r"<br/>.*", "", text) for key, text in re.findall(r"\b([A-Z0-9]+)[\[(]+([^\])]+)", diagram)}
    by_name = {node["name"]: node for node in MAIN["nodes"]}
    alerted = set()
    for sources, label in re.findall(r"^\s*([A-Z0-9 &]+?) -- ([^\n]*?) --> X\b", diagram, re.M):
        for key in sources.split("&"):
            node = by_name[labels[key.strip()]]
            alerted.add(node["name"])
            assert node.get("onError") == "continueErrorOutput", node["name"]
            tries = re.search(r"after (\d+) tries", label)
            if tries:
                assert node.get("retryOnFail") and node.get("maxTries") == int(tries.group(1)), node["name"]
            else:
                assert "no retry" in label and not node.get("retryOnFail"), node["name"]
    routed = {name for name, out in MAIN["connections"].items()
              if any(link["node"] == "Alert: report failed" for branch in out["main"][1:] for link in branch)}
    assert alerted == routed
