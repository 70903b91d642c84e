#!/usr/bin/env bash
# `make airflow`: Airflow 3 standalone (scheduler, DAG processor, triggerer, API server and UI) with the four day
# DAGs, on the embedded defaults. The UI is at http://127.0.0.1:${AIRFLOW_PORT:-27080}, the log servers on the next two
# ports; standalone prints the admin password (also in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated).
# The DAGs start paused: unpause
# one in the UI (or `airflow dags unpause <dag_id>`) to let its schedule run, or trigger it by hand.
#
# Airflow runs from its own virtualenv (scripts/airflow_env.sh); the tasks run the days' code with the project's
# interpreter, ./.venv/bin/python unless ORCHESTRATION_WEEK_PYTHON names another.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PORT="${AIRFLOW_PORT:-27080}"
# standalone does not stop when its API server cannot bind: it reports "ready" while the UI (and the Execution API the
# tasks report to) would be another program's port. So every port it needs is checked first, before any install.
for port in "$PORT" "${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-$((PORT + 1))}" \
            "${AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT:-$((PORT + 2))}"; do
  if ! "${AIRFLOW_PYTHON:-python3}" - "$port" <<'PY'
import socket, sys
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: a TIME_WAIT port is free
try:
    sock.bind(("", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
  then
    echo "airflow_standalone: port $port is in use; choose a free block of three with AIRFLOW_PORT=<port> make airflow" >&2
    exit 2
  fi
done
AIRFLOW_VENV="$("$REPO/scripts/airflow_env.sh")"
CACHE_ROOT="${ORCHESTRATION_WEEK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/orchestration-week}"

export AIRFLOW_HOME="${AIRFLOW_HOME:-$CACHE_ROOT/airflow-home}"
export AIRFLOW__CORE__DAGS_FOLDER="$REPO"            # .airflowignore there leaves only dayXX/dayXX_DAG_airflow.py
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"  # loopback only: this is a laptop demo
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://127.0.0.1:${AIRFLOW__API__PORT}}"
# The scheduler's and the triggerer's log servers take the next two ports (Airflow's defaults, 8793 and 8794, may be
# taken on a shared machine): one setting, AIRFLOW_PORT, places all three.
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-$((AIRFLOW__API__PORT + 1))}"
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="${AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT:-$((AIRFLOW__API__PORT + 2))}"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-30}"
export ORCHESTRATION_WEEK_PYTHON="${ORCHESTRATION_WEEK_PYTHON:-$REPO/.venv/bin/python}"
mkdir -p "$AIRFLOW_HOME"
export PATH="$AIRFLOW_VENV/bin:$PATH"  # standalone starts its components as `airflow ...` from PATH

if [[ ! -x "$ORCHESTRATION_WEEK_PYTHON" ]]; then
  echo "airflow_standalone: $ORCHESTRATION_WEEK_PYTHON missing; run 'make demo' (or 'make .venv/.runtime-installed') first" >&2
  exit 2
fi
echo "airflow_standalone: AIRFLOW_HOME=$AIRFLOW_HOME, UI on $AIRFLOW__API__BASE_URL" >&2
exec "$AIRFLOW_VENV/bin/airflow" standalone
