#!/usr/bin/env bash
# Throughput and latency against the number of connections (BENCHMARKS.md): for each
# backend, with group commit on and off, and 1, 10, 100 and 1,000 connections (one
# user each, WINDOW `message.append` in flight on each), one fresh server and one
# `taskwire bench` run. Prints one JSON object per run (the bench's, with `backend`
# and `group_commit` added); `scripts/plot-sweep.py` draws them.
#
#   scripts/bench-sweep.sh > benchmarks/sweep.jsonl
#
# PostgreSQL is BENCH_DATABASE_URL (default: the local test database, without TLS),
# in a schema of its own. Figures: SWEEP_BACKENDS, SWEEP_CONNECTIONS, WINDOW, DURATION,
# WARMUP.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/taskwire
pg="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
connections="${SWEEP_CONNECTIONS:-1 10 100 1000}"
window="${WINDOW:-4}" duration="${DURATION:-6s}" warmup="${WARMUP:-2s}"
port=18078 secret=sweep-secret
dir=$(mktemp -d)
schema="sweep_$$"
cleanup() {
    rm -rf "$dir"
    psql "${pg%%\?*}" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" 2>/dev/null || true
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
export PGOPTIONS="-c client_min_messages=warning"

for backend in ${SWEEP_BACKENDS:-sqlite postgres}; do
    for group in on off; do
        for n in $connections; do
            if [ "$backend" = sqlite ]; then
                rm -f "$dir"/sweep.db*
                url="sqlite://$dir/sweep.db"
            else
                psql "${pg%%\?*}" -qc "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema"
                sep='?'; [[ "$pg" == *\?* ]] && sep='&'
                url="$pg${sep}options=-csearch_path%3D$schema"
            fi
            GROUP_COMMIT=$group DATABASE_URL="$url" PORT=$port BETTER_AUTH_SECRET=$secret \
                WS_RATE_PER_SEC=1000000 WS_RATE_BURST=1000000 RUST_LOG=warn \
                "$bin" >"$dir/server.log" 2>&1 &
            server=$!
            until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.2; done
            "$bin" bench --url "ws://127.0.0.1:$port/ws" --secret $secret \
                --connections "$n" --users "$n" --window "$window" \
                --duration "$duration" --warmup "$warmup" 2>/dev/null |
                python3 -c "import json,sys; r=json.load(sys.stdin); r.update(backend='$backend', group_commit='$group'); print(json.dumps(r))"
            kill $server; wait $server 2>/dev/null || true
        done
    done
done
