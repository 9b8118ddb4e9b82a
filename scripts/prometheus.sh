#!/usr/bin/env bash
# Makes sure `prometheus` and `promtool` are installed for ksx-core/tests/prometheus.rs, which backfills its own
# fixture into a temporary directory and runs its own server on a free 127.0.0.1 port.
#
# Usage: scripts/prometheus.sh
#
# Idempotent: when both binaries are found (on PATH, or where KSX_PROMETHEUS_BIN / KSX_PROMTOOL_BIN point) it only
# prints their versions. Otherwise it installs the Debian package `prometheus` without recommends, keeping the
# package from starting a system service (there may be no init system, and the test starts its own server).
set -euo pipefail

prometheus_bin="${KSX_PROMETHEUS_BIN:-prometheus}"
promtool_bin="${KSX_PROMTOOL_BIN:-promtool}"

have() { command -v "$1" >/dev/null 2>&1; }

if ! have "$prometheus_bin" || ! have "$promtool_bin"; then
    if [ -n "${KSX_PROMETHEUS_BIN:-}${KSX_PROMTOOL_BIN:-}" ]; then
        echo "prometheus.sh: KSX_PROMETHEUS_BIN=${KSX_PROMETHEUS_BIN:-} / KSX_PROMTOOL_BIN=${KSX_PROMTOOL_BIN:-} not found" >&2
        exit 1
    fi
    if ! have apt-get; then
        echo "prometheus.sh: prometheus/promtool missing and apt-get is not available; install Prometheus 2.x or 3.x" >&2
        exit 1
    fi
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if have sudo; then
            sudo=(sudo)
        else
            echo "prometheus.sh: need root (or sudo) to install the prometheus package" >&2
            exit 1
        fi
    fi
    # Debian's maintainer scripts ask invoke-rc.d whether to start the service; policy-rc.d exit code 101 says
    # "no". Only add one when none exists, and remove it again afterwards.
    policy=/usr/sbin/policy-rc.d
    added_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod 755 "$policy"
        added_policy=1
    fi
    cleanup() { if [ "$added_policy" = 1 ]; then "${sudo[@]}" rm -f "$policy"; fi; }
    trap cleanup EXIT
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
    if ! have "$prometheus_bin" || ! have "$promtool_bin"; then
        echo "prometheus.sh: the prometheus package did not provide both prometheus and promtool" >&2
        exit 1
    fi
fi

"$prometheus_bin" --version 2>&1 | head -n 1
"$promtool_bin" --version 2>&1 | head -n 1
