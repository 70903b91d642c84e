"""Files are read only when complete: in-progress names are ignored, and a file still growing waits."""
import json
import subprocess
import sys
import time

WRITER = """
import sys, time
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "w") as out:
    out.write("alert_id,alert_type,entity_id,account_id,created_at\\n")
    out.flush()
    for n in range(rows):
        out.write(f"W-{n},trade_wash,ENT-{n},ACC-{n},2026-11-22T09:00:00Z\\n")
        out.flush()
        time.sleep(0.03)
"""


def test_a_csv_appended_by_another_process_is_taken_whole_after_it_settles(settings, run, db):
    settings.drop_dir.mkdir(parents=True)
    target = settings.drop_dir / "growing.csv"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target), "100"])
    seen = []
    try:
        while writer.poll() is None:
            seen.append(run(file_settle_seconds=2.0).received)  # runs keep happening while it is written
            time.sleep(0.2)
    finally:
        writer.wait(timeout=60)
    assert sum(seen) == 0  # never half a file
    time.sleep(2.1)
    assert run(file_settle_seconds=2.0).received == 100
    assert db.execute("SELECT COUNT(*) FROM day13_received").fetchone()[0] == 100
    assert db.execute("SELECT COUNT(*) FROM day13_quarantine").fetchone()[0] == 0


def test_in_progress_names_are_ignored_until_renamed_into_place(settings, run, drop, make_alert):
    for name in ("batch.json.tmp", "batch.json.part", ".batch.json"):
        drop(name, [make_alert(1)])
    assert run().received == 0
    (settings.drop_dir / "batch.json.part").rename(settings.drop_dir / "batch.json")
    assert run().received == 1
    assert sorted(p.name for p in settings.drop_dir.iterdir() if p.is_file()) == [".batch.json", "batch.json.tmp"]


def test_a_json_file_being_written_is_not_quarantined_whole(settings, run, make_alert):
    settings.drop_dir.mkdir(parents=True)
    path = settings.drop_dir / "a.json"
    text = json.dumps([make_alert(n, entity_id=f"E{n}") for n in range(10)])
    path.write_text(text[: len(text) // 2])
    assert run(file_settle_seconds=5.0).quarantined == 0
    path.write_text(text)
    assert run(file_settle_seconds=0).received == 10
