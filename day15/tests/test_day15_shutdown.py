"""SIGTERM to the orchestrator under load, in both modes: every event answered 202 before the stop is
stored (embedded: processed, as the in-memory queue dies with the process; real Redis: processed or
still queued in Redis, never pending), and the orchestrator exits 0."""
import signal
import time


from day15_BUFFER_streams import DAY15_STREAM, day15_Buffer
from day15_SIGNING_webhooks import day15_new_secret
from day15_SUPERVISOR_processes import day15_free_port


def _load_then_sigterm(kit, tmp_path, env):
    base = f"http://127.0.0.1:{env['DAY15_WEBHOOK_PORT']}"
    pipeline = kit.orchestrator(env)
    senders = []
    try:
        kit.wait_healthy(base)
        template = {"type": "user.activity", "created": int(time.time()), "data": {"object": {"user": "u1", "customer": "c1"}}}
        senders = [kit.Sender(base, env["DAY15_WEBHOOK_SECRET"], template, f"evt_stop{n}") for n in range(3)]
        for sender in senders:
            sender.start()
        while sum(len(sender.ids(202)) for sender in senders) < 600:
            time.sleep(0.05)
        pipeline.send_signal(signal.SIGTERM)  # mid-load: the senders keep going while the pipeline stops
        assert pipeline.wait(timeout=120) == 0
    finally:
        for sender in senders:
            sender.halt.set()
        for sender in senders:
            sender.join(timeout=30)
        if pipeline.poll() is None:
            pipeline.kill()
            pipeline.wait()
    accepted = set().union(*(sender.ids(202) for sender in senders))
    return accepted, set(kit.stored_ids(tmp_path / "analytics.sqlite"))


def test_sigterm_in_embedded_mode_processes_every_202_before_exiting_0(kit, tmp_path):
    env = kit.pipeline_env(tmp_path, secret=day15_new_secret(), port=day15_free_port(), redis_port=None)
    accepted, stored = _load_then_sigterm(kit, tmp_path, env)
    assert accepted and accepted <= stored, f"answered 202 and lost: {sorted(accepted - stored)[:5]}"
    log = (tmp_path / "pipeline.log").read_text()
    assert "lost with the embedded Redis" not in log
    assert log.index("webhook server stopped") < log.index("consumer stopped cleanly")  # in order


def test_sigterm_with_a_real_redis_leaves_every_202_processed_or_queued_never_pending(kit, tmp_path, real_redis):
    kwargs = real_redis.connection_pool.connection_kwargs
    env = kit.pipeline_env(tmp_path, secret=day15_new_secret(), port=day15_free_port(), redis_port=kwargs["port"])
    env["DAY15_REDIS_DB"] = str(kwargs["db"])
    accepted, stored = _load_then_sigterm(kit, tmp_path, env)
    buffer = day15_Buffer(real_redis)
    assert buffer.depth()["pending"] == 0
    queued = {fields[b"event_id"].decode() for _, fields in real_redis.xrange(DAY15_STREAM)}
    assert accepted and accepted <= stored | queued, f"answered 202 and lost: {sorted(accepted - stored - queued)[:5]}"


def test_no_child_outlives_an_orchestrator_killed_with_sigkill(kit, tmp_path):
    import os
    import re

    env = kit.pipeline_env(tmp_path, secret=day15_new_secret(), port=day15_free_port(), redis_port=None)
    pipeline = kit.orchestrator(env)
    try:
        kit.wait_healthy(f"http://127.0.0.1:{env['DAY15_WEBHOOK_PORT']}")
        children = [int(pid) for pid in re.findall(r"child started\" .*child_pid=(\d+)", (tmp_path / "pipeline.log").read_text())]
        assert len(children) == 3
    finally:
        pipeline.kill()
        pipeline.wait()

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        with open(f"/proc/{pid}/stat") as stat:  # a zombie (exited, not yet reaped by init) counts as gone
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"

    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if alive(pid)], "children outlived their supervisor"
