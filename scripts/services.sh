#!/usr/bin/env bash
# Installs and starts what the test suite talks to, idempotently. Safe to run again and again.
#
# - Prometheus and promtool (Debian package): the Prometheus adapter tests start their own server on a free
#   loopback port over a backfilled data directory, so here we only make sure the binaries exist.
# - The relational databases, Redis and the brokers are started by the machine before a session; we only check
#   they answer, and start any that has stopped with the machine's own start command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/prometheus.sh
