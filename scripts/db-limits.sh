#!/usr/bin/env bash
# The database's own commit limits, measured the way taskwire writes (BENCHMARKS.md):
# one message.append per transaction, and fifty per transaction. PostgreSQL only.
#
#   scripts/db-limits.sh [postgres://postgres@127.0.0.1:5432/test] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
url="${1:-postgres://postgres@127.0.0.1:5432/test}"
seconds="${2:-10}"
schema="dblimits_$$"
psql "$url" -qc "CREATE SCHEMA $schema"
trap 'psql "$url" -qc "DROP SCHEMA $schema CASCADE" 2>/dev/null' EXIT
export PGOPTIONS="-c search_path=$schema"
DATABASE_URL="$url?options=-csearch_path%3D$schema" cargo run --release -q -- migrate >/dev/null
psql "$url" -qc "INSERT INTO conversation (user_id, created_at, updated_at)
  SELECT 'u' || i, now(), now() FROM generate_series(1, 200) AS i"
run() {
  pgbench "$url" -n -f "$1" -c "$2" -j 2 -T "$seconds" 2>/dev/null | awk '/^tps/ {print $3}'
}
one=$(run scripts/pgbench/one_change.sql 32)
fifty=$(run scripts/pgbench/fifty_changes.sql 4)
printf '{"one_change_per_tx_tps": %.0f, "fifty_changes_per_tx_msgs_per_s": %.0f}\n' \
  "$one" "$(echo "$fifty * 50" | bc)"
