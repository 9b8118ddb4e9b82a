#!/usr/bin/env bash
# Installs and starts what the test suite talks to, idempotently. Safe to run again and again.
#
# - Prometheus and promtool (Debian package): the Prometheus adapter tests start their own server on a free
#   loopback port over a backfilled data directory, so here we only make sure the binaries exist.
# - The relational databases, Redis and the brokers are started by the machine before a session; we only check
#   they answer, and start any that has stopped with the machine's own start command.
# - The local S3 servers of the ksx-cache data-path tests (s3s-fs on 127.0.0.1:8014, moto on 127.0.0.1:5055):
#   scripts/s3.sh installs them under ${KSX_TOOLS_DIR:-~/.cache/ksx/tools} and starts them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/prometheus.sh
./scripts/s3.sh
