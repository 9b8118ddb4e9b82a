#!/usr/bin/env bash
# Installs and starts the two local S3 servers the ksx-cache data-path tests talk to (spec cache.md §7):
#
# - s3s-fs 0.14.1 (`cargo install`, the last release that builds with Rust 1.95) on 127.0.0.1:8014, keys
#   AKTEST/SKTEST, buckets are subdirectories of its data directory. Everything but revalidation runs on it.
# - moto 5.2.5 (`pip install 'moto[server]==5.2.5'` into a virtual environment) on 127.0.0.1:5055, in memory, any
#   credentials. It answers `If-None-Match: <etag>` with 304, which s3s-fs ignores: the revalidation tests use it.
#
# Usage: scripts/s3.sh
#
# Idempotent: tools already installed are not installed again, a server already listening is left alone, and the
# bucket `ksx-test` is created on each when missing. Nothing is exported: the tests read AWS_ENDPOINT (default
# http://127.0.0.1:8014) and KSX_MOTO_ENDPOINT (default http://127.0.0.1:5055) themselves.
#
# Environment (all optional):
#   KSX_TOOLS_DIR     where the tools, the s3s-fs data directory and the server logs live
#                     (default ${XDG_CACHE_HOME:-$HOME/.cache}/ksx/tools)
#   KSX_S3_PORT       s3s-fs port (default 8014)
#   KSX_MOTO_PORT     moto port (default 5055)
#   KSX_S3_TIMEOUT    seconds to wait for each server to answer (default 60)
set -euo pipefail

tools="${KSX_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ksx/tools}"
s3_port="${KSX_S3_PORT:-8014}"
moto_port="${KSX_MOTO_PORT:-5055}"
timeout="${KSX_S3_TIMEOUT:-60}"
bucket=ksx-test
s3s_version=0.14.1
moto_version=5.2.5

s3s_bin="$tools/bin/s3s-fs"
s3_data="$tools/s3s-fs-data"
moto_venv="$tools/moto-venv"
moto_bin="$moto_venv/bin/moto_server"

have() { command -v "$1" >/dev/null 2>&1; }
say() { printf 's3.sh: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

# Whether something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp: no extra tool needed).
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The HTTP status of a request, or 000 when nothing answered.
http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }

# Waits until `$2` answers HTTP on port $1; on timeout prints the end of the log `$3` and fails.
wait_http() {
    local port=$1 name=$2 log=$3 waited=0
    while :; do
        case "$(http_status "http://127.0.0.1:$port/")" in
            000) ;;
            *) return 0 ;;
        esac
        if [ "$waited" -ge "$timeout" ]; then
            say "$name did not answer on 127.0.0.1:$port within ${timeout}s; last lines of $log:"
            tail -n 20 "$log" >&2 2>/dev/null || true
            exit 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

have curl || fail "curl is needed to check the servers"
mkdir -p "$tools" "$s3_data/$bucket"

# --- s3s-fs -------------------------------------------------------------------------------------------------------
# cargo install records what it installed in $tools/.crates.toml.
if [ ! -x "$s3s_bin" ] || ! grep -q "^\"s3s-fs $s3s_version " "$tools/.crates.toml" 2>/dev/null; then
    have cargo || fail "cargo is needed to install s3s-fs $s3s_version"
    say "installing s3s-fs $s3s_version into $tools (cold: a few minutes)"
    start=$SECONDS
    cargo install "s3s-fs@$s3s_version" --features binary --locked --root "$tools" \
        || fail "cargo install s3s-fs@$s3s_version failed (it needs Rust >= 1.92 and crates.io)"
    say "s3s-fs installed in $((SECONDS - start))s"
fi

if listening "$s3_port"; then
    say "something already listens on 127.0.0.1:$s3_port; assuming it is s3s-fs"
else
    # s3s-fs leaves a deleted key's prefix directories behind; prune the empty ones while it is down.
    find "$s3_data/$bucket" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    say "starting s3s-fs on 127.0.0.1:$s3_port (data $s3_data)"
    setsid nohup "$s3s_bin" --host 127.0.0.1 --port "$s3_port" --access-key AKTEST --secret-key SKTEST "$s3_data" \
        >"$tools/s3s-fs.log" 2>&1 </dev/null &
fi
wait_http "$s3_port" s3s-fs "$tools/s3s-fs.log"
# Buckets are subdirectories (created above, also when the server was already running on this data directory).
# An unsigned request is refused (403) when keys are set, so readiness only checks that HTTP answers.

# --- moto -----------------------------------------------------------------------------------------------------------
moto_ok() { [ -x "$moto_bin" ] && "$moto_venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$moto_version')" 2>/dev/null; }
if ! moto_ok; then
    py="${KSX_PYTHON:-python3}"
    have "$py" || fail "python3 is needed to install moto $moto_version"
    say "installing moto[server]==$moto_version into $moto_venv"
    start=$SECONDS
    rm -rf "$moto_venv"
    "$py" -m venv "$moto_venv" || fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$moto_venv/bin/pip" install -q "moto[server]==$moto_version" || { rm -rf "$moto_venv"; fail "pip install moto failed"; }
    say "moto installed in $((SECONDS - start))s"
fi

if listening "$moto_port"; then
    say "something already listens on 127.0.0.1:$moto_port; assuming it is moto"
else
    say "starting moto on 127.0.0.1:$moto_port"
    setsid nohup "$moto_bin" -H 127.0.0.1 -p "$moto_port" >"$tools/moto.log" 2>&1 </dev/null &
fi
wait_http "$moto_port" moto "$tools/moto.log"
# PUT on an existing bucket answers 200 in us-east-1 too, so this is idempotent.
status="$(http_status -X PUT "http://127.0.0.1:$moto_port/$bucket")"
case "$status" in
    200 | 409) ;;
    *) fail "creating bucket $bucket on moto (127.0.0.1:$moto_port) answered HTTP $status" ;;
esac
"$moto_venv/bin/python" -c "import moto; print('moto', moto.__version__)"
say "ready: s3s-fs http://127.0.0.1:$s3_port and moto http://127.0.0.1:$moto_port, bucket $bucket on both"
