#!/usr/bin/env bash
# The crash check: the taskwire binary takes a stream of message.append frames over
# many WebSocket connections, is killed with SIGKILL once about half are
# acknowledged, and is restarted on the same database; every acknowledged message
# must be stored exactly once, every unanswered frame resent with its id written
# once, and every acknowledged frame resent answered with its first ack.
#
# Runs on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set. Figures:
#   CRASH_CHECK_FRAMES       frames in the stream (default 3000)
#   CRASH_CHECK_CONNECTIONS  WebSocket connections, four per user (default 20)
#   CRASH_CHECK_IN_FLIGHT    unanswered frames per connection (default 4)
# Example: CRASH_CHECK_FRAMES=20000 scripts/crash-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The environment (CRASH_CHECK_*, TEST_DATABASE_URL) passes through to the test.
# One backend at a time, so that the runs do not compete and print in order.
exec cargo test --release --test api crash_check:: -- --nocapture --test-threads=1
