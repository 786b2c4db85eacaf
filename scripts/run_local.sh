#!/usr/bin/env bash
# Run a project job on DuckDB against the local simtom-compatible server, then summarise.
#
# Starts `simtom-local` on a free loopback port (unless TAP_SIMTOM_BNPL_API_URL names an
# API already), points the tap at it, runs `meltano run $JOB` for START..END in the dev
# environment, stops the server (also on failure or Ctrl-C) and prints
# scripts/summary.py. Exits with the job's exit code.
#
#   START=2024-11-25 END=2024-12-01 JOB=daily bash scripts/run_local.sh
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$(pwd)"
BIN="$ROOT/.venv/bin"
START="${START:-2024-11-25}"
END="${END:-2024-12-01}"
JOB="${JOB:-daily}"
export BNPL_DUCKDB_PATH="${BNPL_DUCKDB_PATH:-$ROOT/output/bnpl.duckdb}"
mkdir -p "$(dirname "$BNPL_DUCKDB_PATH")" "$ROOT/output/logs"

for tool in meltano simtom-local python; do
  if [[ ! -x "$BIN/$tool" ]]; then
    echo "run_local: $BIN/$tool is missing; run 'make install' first" >&2
    exit 2
  fi
done

work="$(mktemp -d)"
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop_server EXIT
trap 'exit 130' INT TERM

if [[ -n "${TAP_SIMTOM_BNPL_API_URL:-}" ]]; then
  # An API was chosen (the public instance, a local simtom): no local server then.
  echo "run_local: using the API at $TAP_SIMTOM_BNPL_API_URL"
else
  server_log="$ROOT/output/logs/simtom-local.log"
  "$BIN/simtom-local" --host 127.0.0.1 --port 0 --port-file "$work/port" --quiet \
    >"$server_log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    [[ -s "$work/port" ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "run_local: simtom-local exited early; see $server_log" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [[ ! -s "$work/port" ]]; then
    echo "run_local: simtom-local did not report its port within 10 s; see $server_log" >&2
    exit 1
  fi
  export TAP_SIMTOM_BNPL_API_URL="http://127.0.0.1:$(cat "$work/port")"
  echo "run_local: simtom-local listening on $TAP_SIMTOM_BNPL_API_URL"
fi

export TAP_SIMTOM_BNPL_START_DATE="$START"
export TAP_SIMTOM_BNPL_END_DATE="$END"
echo "run_local: job '$JOB' for $START..$END in the dev environment"
echo "run_local: DuckDB file $BNPL_DUCKDB_PATH"

started=$(date +%s)
status=0
# orchestrate/run_job.py runs the job's steps under orchestrate/job_lock.py (one run of the
# project's jobs at a time: they share the DuckDB file and .meltano/run/; a second `make run`
# is refused with one line) and records the run in ops.pipeline_runs, failed or not.
"$BIN/python" "$ROOT/orchestrate/run_job.py" --environment=dev "$JOB" || status=$?
elapsed=$(($(date +%s) - started))

stop_server
trap - EXIT

echo
echo "run_local: job '$JOB' finished with exit code $status in ${elapsed}s"
"$BIN/python" "$ROOT/scripts/summary.py" --job-exit-code "$status" || true
exit "$status"
