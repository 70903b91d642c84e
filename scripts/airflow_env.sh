#!/usr/bin/env bash
# Airflow lives in its own virtualenv outside the repository: Airflow 3.3 needs SQLAlchemy 2.1, the days pin 2.0.
# First use installs it (pinned, with Airflow's published constraints when they can be fetched); later uses reuse it.
#   scripts/airflow_env.sh            install if missing, print the venv's path
#   scripts/airflow_env.sh --check    exit 0 only when the environment is installed
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
AIRFLOW_PYTHON="${AIRFLOW_PYTHON:-python3}"
CACHE_ROOT="${ORCHESTRATION_WEEK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/orchestration-week}"
AIRFLOW_VENV="${AIRFLOW_VENV:-$CACHE_ROOT/airflow-$AIRFLOW_VERSION}"
MARKER="$AIRFLOW_VENV/.installed-$AIRFLOW_VERSION"

if [[ "${1:-}" == "--check" ]]; then
  [[ -f "$MARKER" ]] && exit 0 || exit 1
fi

if [[ ! -f "$MARKER" ]]; then
  mkdir -p "$CACHE_ROOT"
  # One installer at a time (tests and make airflow may start together).
  exec 9>"$CACHE_ROOT/.airflow-$AIRFLOW_VERSION.lock"
  flock 9
  if [[ ! -f "$MARKER" ]]; then
    py_minor="$("$AIRFLOW_PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    rm -rf "$AIRFLOW_VENV"
    "$AIRFLOW_PYTHON" -m venv "$AIRFLOW_VENV"
    "$AIRFLOW_VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    constraints_url="https://raw.githubusercontent.com/apache/airflow/constraints-${AIRFLOW_VERSION}/constraints-${py_minor}.txt"
    constraints_file="$AIRFLOW_VENV/constraints.txt"
    constraint_args=()
    if curl -fsSL --max-time 15 "$constraints_url" -o "$constraints_file" 2>/dev/null; then
      constraint_args=(--constraint "$constraints_file")
      echo "airflow_env: installing apache-airflow==$AIRFLOW_VERSION with the published constraints" >&2
    else
      echo "airflow_env: constraints file not reachable; installing apache-airflow==$AIRFLOW_VERSION pinned, without it" >&2
    fi
    # The DAG files read each day's settings through the day's CONFIG module at parse time: that needs
    # pydantic-settings and python-dotenv, at the project's own pins (read from pyproject.toml).
    config_pins=($(grep -oiE '"(pydantic-settings|python-dotenv)==[^"]+"' "$REPO/pyproject.toml" | tr -d '"'))
    "$AIRFLOW_VENV/bin/python" -m pip install --quiet "apache-airflow==$AIRFLOW_VERSION" "${config_pins[@]}" \
      "${constraint_args[@]}" >&2
    "$AIRFLOW_VENV/bin/python" -m pip freeze > "$AIRFLOW_VENV/installed-packages.txt"
    touch "$MARKER"
  fi
fi
echo "$AIRFLOW_VENV"
