"""The committed execution log is read from the execution JSON n8n prints, node by node."""
import json

from day11_EVIDENCE_capture import day11_execution_summary


def test_the_execution_log_lists_every_node_n8n_ran_in_order():
    execution = {"finished": True, "mode": "cli", "status": "success", "data": {"resultData": {"runData": {
        "Post to Slack": [{"startTime": 30, "executionTime": 21, "executionStatus": "success",
                           "data": {"main": [[{"json": {}}]]}}],
        "Fetch Google Ads campaigns": [{"startTime": 10, "executionTime": 427, "executionStatus": "success",
                                        "data": {"main": [[{"json": {}}] * 4]}}]}}}}
    stdout = "Legacy aes-256-cbc encryption key not found; falling back to instance key\n" + json.dumps(execution, indent=2)
    assert day11_execution_summary(stdout) == ["  Fetch Google Ads campaigns: success, 4 item(s), 427 ms",
                                               "  Post to Slack: success, 1 item(s), 21 ms",
                                               "execution status: success, mode cli"]


def test_no_execution_data_is_said_not_hidden():
    assert day11_execution_summary("Failed to start Python task runner\n") == ["(n8n printed no execution data)"]
