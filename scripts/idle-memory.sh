#!/usr/bin/env bash
# Resident memory of the server per idle authenticated WebSocket connection, for each
# count given: starts the release binary on a fresh SQLite file, reads its RSS, holds
# N connections open with `taskwire bench --idle` (each waits for `ready`), reads the
# RSS again and prints the growth per connection.
#
#   scripts/idle-memory.sh 1000 10000 19000
#
# Each process needs one file descriptor per connection: N is bounded by the hard
# open-files limit (`ulimit -Hn`), which only a privileged user can raise.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/taskwire
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
port=18077
ulimit -n "$(ulimit -Hn)"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

for n in "$@"; do
    rm -f "$dir"/idle.db*
    BETTER_AUTH_SECRET=idle-secret PORT=$port DATABASE_URL="sqlite://$dir/idle.db" \
        MAX_CONNECTIONS=0 MAX_CONNECTIONS_PER_USER=0 RUST_LOG=warn "$bin" >"$dir/server.log" 2>&1 &
    server=$!
    until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.2; done
    before=$(rss $server)
    "$bin" bench --url "ws://127.0.0.1:$port/ws" --secret idle-secret --users 1000 \
        --idle "$n" --hold 20s >"$dir/bench.json" 2>/dev/null &
    bench=$!
    # Sampled while held: every connection is open by then at these counts.
    sleep 15
    during=$(rss $server)
    wait $bench
    kill $server; wait $server 2>/dev/null || true
    established=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['established'])" "$dir/bench.json")
    python3 - "$n" "$established" "$before" "$during" <<'PY'
import sys
n, est, before, during = map(int, sys.argv[1:])
print(f"connections={n} established={est} rss_before_kib={before} rss_held_kib={during} "
      f"kib_per_connection={(during - before) / max(est, 1):.2f}")
PY
done
