"""An adversary's runs of the entry points: planted values and passwords that must reach no output, shapes of file
that must be refused rather than misread, and crashes and races that must lose nothing and leave nothing behind."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

import day12_ORCHESTRATOR_validation as orchestrator
from shared_synthetic_data import security

DAY12_DIR = Path(__file__).resolve().parents[1]
POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres")
PASSWORD = "Pw-" + uuid.uuid4().hex[:12]  # planted in every --source URL; pg's trust auth ignores it
TABLE_SECRETS = ("column.secret@leak.example", "id.owner@leak.example", "555-12-3456")


@pytest.fixture
def run_env(run_folders, monkeypatch):
    out = run_folders
    monkeypatch.setenv("DAY12_MIN_ROWS_PER_SOURCE", "0")
    monkeypatch.setenv("DAY12_MIN_ROWS", "0")
    return out


def _texts(root: Path) -> list[tuple[str, str]]:
    return [(str(p), p.read_bytes().decode("utf-8", errors="ignore")) for p in root.rglob("*") if p.is_file()]


def _events_lines(rows=300, defects=()) -> list[str]:
    return security.generate(size=rows, defects=defects).text("security/security_events.csv").splitlines()


@pytest.fixture
def pg_pii_table():
    """A small events table in PostgreSQL: a column whose name is an e-mail address, and a failing row whose id is
    one and whose source IP is an SSN."""
    import sqlalchemy as sa

    from day12_SQLDATA_tables import day12_create_events_table

    schema = f"day12_adv_{uuid.uuid4().hex[:8]}"
    day12_create_events_table(POSTGRES, schema, "events", 2_000, dirty=True)
    engine = sa.create_engine(POSTGRES)
    with engine.begin() as connection:
        connection.execute(sa.text(f'ALTER TABLE {schema}.events ADD COLUMN "{TABLE_SECRETS[0]}" text'))
        connection.execute(sa.text(f"UPDATE {schema}.events SET event_id = :id, src_ip = :ip WHERE event_id = 'E0000000100'"),
                           {"id": TABLE_SECRETS[1], "ip": TABLE_SECRETS[2]})
    yield schema
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def _url(schema_table: str, *, password: str = "", query: str = "") -> str:
    base, _, database = POSTGRES.rpartition("/")
    scheme, rest = base.split("://", 1)
    return f"postgresql://{rest.replace('@', ':' + password + '@', 1) if password else rest}/{database}{query}/{schema_table}"


def _passwords_connected_with(run):
    """What run() returns, and the password of every database connection opened meanwhile (GX's and day12's own)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    passwords = []

    def record(dialect, connection_record, cargs, cparams):
        passwords.append(cparams.get("password"))

    event.listen(Engine, "do_connect", record)
    try:
        return run(), passwords
    finally:
        event.remove(Engine, "do_connect", record)


def test_the_configured_password_reaches_every_connection_and_no_page_store_or_output(pg_pii_table, run_env, monkeypatch,
                                                                                   capfd, caplog):
    """GX 1.x moves its own UpdateDataDocsAction ahead of the scrub action: table pages were rendered unscrubbed. The
    password came on the command line (ps, shell history, cron files): now from DAY12_SQL_PASSWORD in config/.env."""
    import day12_SCHEDULER_dropfolder as scheduler

    monkeypatch.setenv("DAY12_SQL_PASSWORD", PASSWORD)
    code, passwords = _passwords_connected_with(lambda: orchestrator.main(["--source", _url(f"{pg_pii_table}.events")]))
    assert code == 4
    assert passwords and set(passwords) == {PASSWORD}  # the catalogue read, GX's scans, the id queries
    assert scheduler.main(["--print-cron"]) == 0  # the crontab lines the scheduler writes
    out, err = capfd.readouterr()
    texts = [("stdout", out), ("stderr", err), ("log", caplog.text)] + _texts(run_env)
    assert any(name.endswith(".html") and "/validations/" in name for name, _ in texts)
    leaks = sorted({(name, s) for name, text in texts for s in (*TABLE_SECRETS, PASSWORD) if s in text})
    assert not leaks, leaks[:5]


@pytest.mark.parametrize("url", [
    _url("public.t", password=PASSWORD),
    _url("public.t", password="", query=f"?password={PASSWORD}"),  # libpq reads a password from the query too
    _url("public.t", password="", query=f"?sslmode=require&sslpassword={PASSWORD}"),  # the client key's
    _url("public.t", password=f"{PASSWORD[:6]}@{PASSWORD[6:]}"),  # an unescaped @: no part of it may show
    _url("public.t", password=PASSWORD).replace("127.0.0.1", "127.0.0.1:notaport"),  # SQLAlchemy refuses it with its own error
    _url("public.t", password=PASSWORD).replace("127.0.0.1", "[::1"),
    _url(f"public.t?password={PASSWORD}"),  # the query where a URL's query goes: at its end, after the table
    _url(f"public.t?sslmode=require&sslpassword={PASSWORD}"),
    _url("public.t", password=PASSWORD).rsplit("/", 2)[0],  # no database or table at all
])
def test_a_source_url_with_a_password_is_refused_in_one_line_that_never_shows_it(url, run_env, capfd, caplog):
    """A password on the command line is in `ps` for every local user, in shell history and in cron files."""
    code, passwords = _passwords_connected_with(lambda: orchestrator.main(["--source", url]))
    out, err = capfd.readouterr()
    assert code == 3 and passwords == [] and "Traceback" not in err
    (line,) = out.splitlines()
    assert "password" in line and "DAY12_SQL_PASSWORD" in line and "config/.env" in line, line
    texts = [("stdout", out), ("stderr", err), ("log", caplog.text)] + _texts(run_env)
    fragments = (PASSWORD, PASSWORD[:6], PASSWORD[6:])
    assert not sorted({(name, f) for name, text in texts for f in fragments if f in text})


@pytest.mark.parametrize("url", ["postgresql://postgres@127.0.0.1", "postgresql://postgres@127.0.0.1:5432"])
def test_a_source_url_without_a_table_is_one_line_and_exit_3(url, run_env, capfd):
    code = orchestrator.main(["--source", url])
    out, err = capfd.readouterr()
    assert code == 3 and "Traceback" not in err and "crashed" not in err, (code, err)
    (line,) = out.splitlines()
    assert "schema.table" in line, line


def test_a_first_row_longer_than_the_header_is_refused_not_shifted_into_the_index(tmp_path, run_env, capfd):
    """pandas takes the surplus leading fields of such a row as an index: every column moved one place and the
    quarantine listed timestamps as event ids."""
    lines = _events_lines()
    lines[1] += ",surplus,surplus.value@leak.example"
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n")
    assert orchestrator.main(["--input", str(path), "--force"]) == 3
    out = capfd.readouterr().out
    assert "first data row has 2 field(s) more" in out and "surplus" not in out


def test_two_runs_in_one_second_keep_both_results_and_quarantines(tmp_path, run_env, monkeypatch):
    """Drop-folder rounds (or two processes) started in the same second shared one run name: the second run's
    results and quarantine overwrote the first's, and its failing ids were lost."""
    from datetime import datetime, timezone

    import day12_PIPELINE_run as pipeline

    frozen = datetime(2026, 11, 23, 6, 0, 0, tzinfo=timezone.utc)

    class _Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return frozen

    monkeypatch.setattr(pipeline, "datetime", _Clock)
    drop = run_env / "drop"
    drop.mkdir(parents=True)
    (drop / "a_events.csv").write_text("\n".join(_events_lines(defects=("invalid_ips",))) + "\n")
    (drop / "b_events.csv").write_text("\n".join(_events_lines(400, defects=("pii",))) + "\n")
    from day12_CONFIG_settings import day12_load_settings

    assert pipeline.day12_validate_drop_folder(day12_load_settings(env_file=None)) == {"a_events.csv": 4, "b_events.csv": 4}
    assert len(list((run_env / "results").glob("day12-*.json"))) == 2
    quarantines = [json.loads(p.read_text()) for p in (run_env / "quarantine").glob("*_quarantine.json")]
    assert len(quarantines) == 2 and all(q["quarantined_ids"]["security_events"] for q in quarantines)


def test_a_file_rewritten_while_it_is_read_is_never_recorded_as_passed(tmp_path, run_env, monkeypatch):
    """The content hash was taken before the file was parsed: a dirty file swapped for a clean one in between was
    recorded as passed under the dirty file's hash, so the dirty content was later skipped as 'unchanged'."""
    import day12_PIPELINE_run as pipeline

    path = tmp_path / "events.csv"
    dirty = "\n".join(_events_lines(defects=("invalid_ips",))) + "\n"
    path.write_text(dirty)
    real_read = pipeline.day12_read_input
    swaps = []

    def swap_then_read(target, *args, **kwargs):  # a writer replaces the file between the hash and the parse
        if not swaps:
            swaps.append(Path(target).write_text("\n".join(_events_lines()) + "\n"))
        return real_read(target, *args, **kwargs)

    monkeypatch.setattr(pipeline, "day12_read_input", swap_then_read)
    assert orchestrator.main(["--input", str(path)]) in (0, 3)
    monkeypatch.undo()
    for name, sub in (("DAY12_RUN_DIR", "runs"), ("DAY12_RESULTS_DIR", "results"), ("DAY12_QUARANTINE_DIR", "quarantine")):
        monkeypatch.setenv(name, str(run_env / sub))
    monkeypatch.setenv("DAY12_MIN_ROWS_PER_SOURCE", "0")
    path.write_text(dirty)  # the dirty content again: it was never validated, so it must not be skipped
    assert orchestrator.main(["--input", str(path)]) == 4


def _committed_state() -> tuple:
    """day12's tracked files with their modification times, and the untracked files git would show."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=DAY12_DIR, capture_output=True, text=True, check=True).stdout.splitlines()

    tracked = {name: (DAY12_DIR / name).stat().st_mtime_ns for name in git("ls-files") if (DAY12_DIR / name).exists()}
    return tracked, sorted(git("ls-files", "--others", "--exclude-standard"))


def test_staging_left_by_a_killed_run_is_removed_by_the_next_run(tmp_path, run_env, wait_for):
    """kill -9 skips every finally: the staged Parquet copy (every raw value) stayed in the temp folder for good."""
    private = tmp_path / "tmp"
    private.mkdir()
    big = tmp_path / "big.csv"
    big.write_text(security.generate(size=200_000).text("security/security_events.csv"))
    env = {**os.environ, "TMPDIR": str(private)}
    script = str(DAY12_DIR / "day12_ORCHESTRATOR_validation.py")
    before = _committed_state()
    proc = subprocess.Popen([sys.executable, script, "--input", str(big), "--force"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: any(private.glob("day12-staging-*/*.parquet")))
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert list(private.glob("day12-staging-*"))  # the killed run's copy, as a crash leaves it
    small = tmp_path / "small.csv"
    small.write_text("\n".join(_events_lines()) + "\n")
    subprocess.run([sys.executable, script, "--input", str(small)], env=env, capture_output=True, timeout=300, check=False)
    assert list(private.iterdir()) == []
    assert _committed_state() == before  # the killed run touched no committed file and left none beside them
    # and its results file no longer says "running": the next run saw its process gone
    results = [json.loads(p.read_text()) for p in (run_env / "results").glob("day12-*.json")]
    assert sorted(r.get("status", "finished") for r in results) == ["abandoned", "finished"], results


def test_a_later_run_tells_a_dead_runs_claim_from_a_live_ones(run_env):
    """A run killed with kill -9 wrote nothing on its way out: its claim said "running" for good. A claim names its
    process and machine; a later run on that machine marks it abandoned once the process is gone, and leaves alone
    what it cannot judge (a live process, another machine's run, a claim without a process)."""
    import socket
    from datetime import datetime, timezone

    from day12_CONFIG_settings import day12_load_settings
    from day12_PIPELINE_run import day12_claim_run_name, day12_pid_namespace

    results = run_env / "results"
    results.mkdir(parents=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    pidns = day12_pid_namespace()
    claims = {"day12-20260101T000000Z": ({"pid": gone.pid, "host": host, "pidns": pidns}, "abandoned"),
              "day12-20260101T000001Z": ({"pid": os.getpid(), "host": host, "pidns": pidns}, "running"),
              "day12-20260101T000002Z": ({"pid": gone.pid, "host": host + "-other", "pidns": pidns}, "running"),
              "day12-20260101T000004Z": ({"pid": gone.pid, "host": host}, "running"),  # no namespace: a claim of before
              "day12-20260101T000003Z": ({}, "running")}
    for name, (fields, _) in claims.items():
        (results / f"{name}.json").write_text(json.dumps({"run": name, "status": "running", **fields}) + "\n")
    mine = day12_claim_run_name(day12_load_settings(env_file=None), datetime.now(timezone.utc))
    assert json.loads((results / f"{mine}.json").read_text()) | {"pid": 0} == {
        "run": mine, "status": "running", "pid": 0, "host": host, "pidns": pidns, "inputs": []}
    found = {name: json.loads((results / f"{name}.json").read_text()) for name in claims}
    assert {name: r["status"] for name, r in found.items()} == {name: status for name, (_, status) in claims.items()}
    abandoned = found["day12-20260101T000000Z"]
    assert "not recorded as passed" in abandoned["message"] and abandoned["found_by"] == mine


_CLAIM_AND_WAIT = ("import sys, time\nfrom datetime import datetime, timezone\nfrom day12_CONFIG_settings import day12_load_settings\n"
                   "from day12_PIPELINE_run import day12_claim_run_name\n"
                   "print(day12_claim_run_name(day12_load_settings(env_file=None), datetime.now(timezone.utc)), flush=True)\n"
                   "time.sleep(float(sys.argv[1]))")


def _can_unshare_pids() -> bool:
    import shutil

    return bool(shutil.which("unshare")) and subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                                                            capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not _can_unshare_pids(), reason="needs unshare (a PID namespace of its own: root or user namespaces)")
def test_a_live_run_of_another_pid_namespace_on_this_host_is_not_marked_abandoned(run_env):
    """A container with the host's name (docker --network host) but its own process ids, sharing the results folder:
    a live run's pid is no process there, and its claim was marked abandoned."""
    live = subprocess.Popen([sys.executable, "-c", _CLAIM_AND_WAIT, "60"], cwd=DAY12_DIR, stdout=subprocess.PIPE, text=True)
    try:
        live_name = live.stdout.readline().strip()
        other = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", _CLAIM_AND_WAIT, "0"],
                               cwd=DAY12_DIR, capture_output=True, text=True, timeout=60, check=False)
        assert other.returncode == 0, other.stderr[-2000:]
        assert json.loads((run_env / "results" / f"{live_name}.json").read_text())["status"] == "running"
    finally:
        live.kill()
        live.wait()


@pytest.mark.parametrize("plant", ["pid beyond any process", "fifo", "symlink to /dev/zero"])
def test_no_file_named_like_a_claim_stops_or_hangs_a_run(plant, run_env):
    """Whatever sits in the results folder under a claim's name: a claim naming a pid no process can have crashed every
    later run (OverflowError) and left its own claim "running"; reading a FIFO or an endless device never returned."""
    import socket

    results = run_env / "results"
    results.mkdir(parents=True)
    planted = results / "day12-20260101T000000Z.json"
    if plant == "fifo":
        os.mkfifo(planted)
    elif plant == "symlink to /dev/zero":
        planted.symlink_to("/dev/zero")
    else:
        planted.write_text(json.dumps({"status": "running", "pid": 2**40, "host": socket.gethostname()}) + "\n")
    code = ("from datetime import datetime, timezone\nfrom day12_CONFIG_settings import day12_load_settings\n"
            "from day12_PIPELINE_run import day12_claim_run_name\n"
            "print(day12_claim_run_name(day12_load_settings(env_file=None), datetime.now(timezone.utc)))")
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=DAY12_DIR, env=os.environ.copy(), capture_output=True,
                              text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a run hung on a {plant} in the results folder")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((results / f"{done.stdout.strip()}.json").read_text())["status"] == "running"


def test_a_file_name_cannot_forge_a_log_line(tmp_path, run_env, capfd):
    """Drop-folder file names are chosen by whoever drops them: a newline in one started a fake log record."""
    drop = run_env / "drop"
    drop.mkdir(parents=True)
    forged = 'x" forged="1.csv\n2026-12-02T00:00:00Z level=INFO logger=day12 msg="validation finished" success=True .csv'
    (drop / forged).write_text("not,a,security\nfile,at,all\n")
    import day12_SCHEDULER_dropfolder as scheduler

    assert scheduler.main(["--once"]) == 3
    err = capfd.readouterr().err
    log = (run_env / "logs" / "day12_validation.log").read_text()
    for text in (err, log):
        assert not [line for line in text.splitlines() if line.startswith("2026-12-02T00:00:00Z")]
        assert 'forged="1' not in text  # a quote inside a value cannot close it and start a field of its own


def test_the_staging_folder_is_private_whatever_the_umask(tmp_path, run_env):
    from day12_GATE_validation import day12_staging_folder

    with day12_staging_folder() as folder:
        assert (os.stat(folder).st_mode & 0o777) == 0o700 and Path(folder).parent == Path(tempfile.gettempdir())


def test_concurrent_runs_on_one_run_folder_neither_crash_nor_lose_a_result(tmp_path, run_env):
    """Two drop-folder passes (cron --once beside the scheduler) and --input runs at the same moment share one GX
    project: GX refused the suite another process had just rewritten, with a traceback, and lost that run."""
    drop = run_env / "drop"
    drop.mkdir(parents=True)
    (drop / "a_events.csv").write_text("\n".join(_events_lines(defects=("invalid_ips",))) + "\n")
    (drop / "b_scan.csv").write_text(security.generate(size=300, defects=("out_of_range",)).text("security/vulnerability_scan.csv"))
    single = tmp_path / "single_events.csv"
    single.write_text("\n".join(_events_lines(defects=("pii",))) + "\n")
    scheduler, orchestrator_script = str(DAY12_DIR / "day12_SCHEDULER_dropfolder.py"), str(DAY12_DIR / "day12_ORCHESTRATOR_validation.py")
    commands = [[scheduler, "--once"], [scheduler, "--once"], [orchestrator_script, "--input", str(single)],
                [orchestrator_script, "--input", str(single), "--force"]]
    procs = [subprocess.Popen([sys.executable, *c], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    outputs = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    assert [o for o in outputs if "Traceback" in o[2]] == []
    assert [code for code, _, _ in outputs[2:]] == [4, 4] and {code for code, _, _ in outputs[:2]} <= {0, 4}
    # a pass that found the run folder busy skipped, its files left for the next pass: the next tick validates them
    subprocess.run([sys.executable, scheduler, "--once"], capture_output=True, timeout=600, check=False)
    results = [json.loads(p.read_text()) for p in (run_env / "results").glob("day12-*.json")]
    assert [r for r in results if r.get("status") == "running"] == []  # no run left unfinished
    inputs = [s["input"] for r in results for s in r["datasets"]]
    assert inputs.count("single_events.csv") == 2 and {"a_events.csv", "b_scan.csv"} <= set(inputs)


def test_gx_never_stores_an_unscrubbed_result_even_if_the_run_dies_before_the_scrub(pg_pii_table, run_env, monkeypatch):
    """GX writes each result to its store before any action runs; a run killed before the scrub action left the
    failing ids and the table's column names as they are in the database."""
    import day12_ACTIONS_checkpoint as actions

    def killed(self, checkpoint_result, action_context=None):
        raise SystemExit(137)  # as if killed right after GX stored the results

    monkeypatch.setattr(actions.day12_ScrubAction, "run", killed)
    with pytest.raises(SystemExit):
        orchestrator.main(["--source", _url(f"{pg_pii_table}.events")])
    stored = [(name, text) for name, text in _texts(run_env / "runs" / "gx") if "/validations/" in name]
    assert stored and not [(name, s) for name, text in stored for s in TABLE_SECRETS if s in text]


@pytest.mark.parametrize("answer", [404, None])  # the webhook refuses, or nothing listens
def test_a_failed_slack_call_never_logs_the_webhook_url(tmp_path, run_env, monkeypatch, capfd, answer):
    """requests puts the URL in its errors ("404 Client Error: Not Found for url: ..."): the webhook's path is the
    secret, and the failure was logged with it."""
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Slack(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(answer)
            self.end_headers()

        def log_message(self, *args):
            pass

    if answer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Slack)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
    else:
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
    secret = "/services/T0ADV/B0ADV/" + uuid.uuid4().hex
    monkeypatch.setenv("DAY12_SLACK_WEBHOOK_URL", f"http://127.0.0.1:{port}{secret}")
    path = tmp_path / "events.csv"
    path.write_text("\n".join(_events_lines(defects=("pii",))) + "\n")
    try:
        assert orchestrator.main(["--input", str(path)]) == 4
    finally:
        if answer:
            server.shutdown()
    out, err = capfd.readouterr()
    assert "Slack notification failed" in err
    texts = [("stdout", out), ("stderr", err)] + _texts(run_env)
    assert not [name for name, text in texts if secret.rsplit("/", 1)[1] in text]


def test_rotated_logs_of_ordinary_runs_are_ignored_too():
    """The log rotates at 5 MB into day12_validation.log.1 ... .3, which '*.log' does not match: a busy drop folder
    left untracked files in the clone."""
    from day12_CONFIG_settings import day12_load_settings

    logs = day12_load_settings(env_file=None).results_dir.parent / "logs"
    names = [str(logs / f"day12_validation.log{suffix}") for suffix in ("", ".1", ".2", ".3")]
    ignored = subprocess.run(["git", "check-ignore", *names], cwd=DAY12_DIR, capture_output=True, text=True).stdout.split()
    assert ignored == names


@pytest.mark.parametrize("shared_run_dir", [False, True])
def test_runs_in_two_threads_each_validate_their_own_file(tmp_path, shared_run_dir):
    """The checkpoint reads the staged copies relative to the working directory, which is the process's: a run in
    another thread changed it mid-run and one run validated the other's file (or crashed in GX's shared project)."""
    import threading

    from day12_CONFIG_settings import day12_load_settings
    from day12_PIPELINE_run import day12_run_files

    outcomes = {}

    def run(name, defects):
        base = tmp_path / ("shared" if shared_run_dir else name)
        settings = day12_load_settings(env_file=None, run_dir=base / "runs", results_dir=tmp_path / name / "results",
                                       quarantine_dir=tmp_path / name / "quarantine", min_rows_per_source=0)
        path = tmp_path / f"{name}.csv"
        path.write_text("\n".join(_events_lines(defects=defects)) + "\n")
        outcomes[name] = day12_run_files(settings, [path])

    threads = [threading.Thread(target=run, args=args) for args in (("ips", ("invalid_ips",)), ("pii", ("pii",)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    failed = {}
    for name in ("ips", "pii"):
        assert outcomes[name].exit_code == 4
        (section,) = json.loads(outcomes[name].results_path.read_text())["datasets"]
        failed[name] = {e["column"] for e in section["expectations"] if not e["success"]}
    assert failed == {"ips": {"src_ip"}, "pii": {"message"}}


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_a_file_that_fails_to_read_blocks_no_other_file_of_the_pass(run_env, capfd):
    """A drop-folder file whose bytes cannot be read (an I/O error, no permission) raised out of the content hash:
    the whole pass stopped with a traceback and the other files were never validated."""
    drop = run_env / "drop"
    drop.mkdir(parents=True)
    (drop / "a_unreadable.csv").symlink_to("/proc/self/mem")  # a regular file whose first read is EIO
    (drop / "b_events.csv").write_text("\n".join(_events_lines(defects=("pii",))) + "\n")
    import day12_SCHEDULER_dropfolder as scheduler

    assert scheduler.main(["--once"]) == 4
    err = capfd.readouterr().err
    assert "Traceback" not in err and "a_unreadable.csv" in err and "unreadable" in err
    (results,) = (run_env / "results").glob("day12-*.json")
    assert [s["input"] for s in json.loads(results.read_text())["datasets"]] == ["b_events.csv"]


def test_a_checkpoint_run_of_its_own_caller_waits_for_the_run_folder(tmp_path, wait_for):
    """The Airflow DAG calls day12_validate_inputs itself: it ran while a drop-folder pass of another process held
    the same GX project."""
    import threading

    from day12_CONFIG_settings import day12_load_settings
    from day12_PIPELINE_run import day12_load_input, day12_validate_inputs

    settings = day12_load_settings(env_file=None, run_dir=tmp_path / "runs", results_dir=tmp_path / "results",
                                   quarantine_dir=tmp_path / "quarantine", min_rows_per_source=0)
    settings.run_dir.mkdir(parents=True)
    ready, go = tmp_path / "ready", tmp_path / "go"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[2], 'w').close()\n"
        "while not os.path.exists(sys.argv[3]): time.sleep(0.05)"), str(settings.run_dir / ".day12_run.lock"), str(ready), str(go)])
    path = tmp_path / "events.csv"
    path.write_text("\n".join(_events_lines()) + "\n")
    outcome = []
    run = threading.Thread(target=lambda: outcome.append(day12_validate_inputs(settings, [day12_load_input(settings, path)])))
    try:
        assert wait_for(ready.exists)
        run.start()
        run.join(timeout=30)  # a run takes a few seconds: still running after 30 means it is waiting
        assert run.is_alive() and not outcome
    finally:
        go.touch()
        holder.wait(timeout=60)
        if run.ident:
            run.join(timeout=300)
    assert outcome and outcome[0].exit_code == 0  # and it ran once the other process let go


CRASH_SECRET, CRASH_VALUE = "Pw-" + uuid.uuid4().hex[:12], "203.0.113.77"  # what an unexpected error's text may quote


def _crash_while_reading(monkeypatch) -> None:
    """An error nothing foresaw, deep in a run, whose text quotes a password and a data value."""
    import day12_PIPELINE_run

    def read_input(path):
        raise KeyError(f"row 7 src_ip={CRASH_VALUE} postgresql://u:{CRASH_SECRET}@db/x {path}")
    monkeypatch.setattr(day12_PIPELINE_run, "day12_read_input", read_input)
    _keep_logging_as_it_was(monkeypatch)


def _assert_one_crash_line(run_env: Path, err: str, out: str, message: str) -> None:
    log = (run_env / "logs" / "day12_validation.log").read_text()
    for text in (err, log):
        (line,) = [line for line in text.splitlines() if "crashed" in line]
        assert f'msg="{message}"' in line and "error_type=KeyError" in line
        assert re.search(r" place=day12_PIPELINE_run:day12_load_input:\d+( |$)", line), line
    for text in (out, err, log):
        assert "Traceback" not in text and 'File "' not in text
        assert CRASH_SECRET not in text and CRASH_VALUE not in text and "row 7" not in text


def test_an_unexpected_error_is_one_line_and_exit_5_with_no_value_or_traceback(tmp_path, run_env, monkeypatch, capfd):
    """An exception no code handled escaped main as a traceback: its text (a password, a row's value) on the terminal
    and the traceback in the log file."""
    path = tmp_path / "events.csv"
    path.write_text("\n".join(_events_lines()) + "\n")
    _crash_while_reading(monkeypatch)
    assert orchestrator.main(["--input", str(path), "--force"]) == 5
    out, err = capfd.readouterr()
    _assert_one_crash_line(run_env, err, out, "run crashed")


def test_a_drop_folder_pass_that_crashes_logs_one_line_and_once_exits_5(run_env, monkeypatch, capfd):
    """--once let the exception out as a traceback; the scheduler's job handed it to APScheduler, which printed one."""
    import day12_SCHEDULER_dropfolder as scheduler
    from day12_LOG_setup import day12_setup_logging

    drop = run_env / "drop"
    drop.mkdir(parents=True)
    (drop / "events.csv").write_text("\n".join(_events_lines()) + "\n")
    _crash_while_reading(monkeypatch)
    assert scheduler.main(["--once"]) == 5
    out, err = capfd.readouterr()
    _assert_one_crash_line(run_env, err, out, "drop folder pass crashed")
    (run_env / "logs" / "day12_validation.log").unlink()
    day12_setup_logging(run_env / "logs" / "day12_validation.log")  # as the scheduler's main does before it starts
    assert scheduler.day12_scheduled_job() is None  # nothing raised to APScheduler: the next pass runs as planned
    out, err = capfd.readouterr()
    _assert_one_crash_line(run_env, err, out, "drop folder pass crashed")


def test_crash_fields_fall_back_to_the_innermost_frame_and_never_carry_the_text():
    """Raised in a library called from outside day12's code (here: a test): the innermost frame names the place;
    an exception never raised has no place. The text ("secret") is in neither."""
    import json
    import re

    from day12_LOG_setup import day12_crash_fields

    try:
        json.loads('{"password": "secret"')
    except ValueError as exc:
        fields = day12_crash_fields(exc)
    assert fields["error_type"] == "json.decoder.JSONDecodeError"
    assert re.fullmatch(r"decoder:raw_decode:\d+", fields["place"]), fields
    assert day12_crash_fields(KeyError("secret")) == {"error_type": "KeyError", "place": "unknown"}


def _keep_logging_as_it_was(monkeypatch) -> None:
    """The run sets up the day12 logger with a terminal handler on this test's captured stderr, closed after the test:
    the handlers and propagation it had before come back then, so later tests do not log into a closed stream."""
    import logging

    logger = logging.getLogger("day12")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "propagate", logger.propagate)
