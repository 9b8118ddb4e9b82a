#!/usr/bin/env bash
# The one test command of ksx: formatting, lints, and the whole test suite, with every service the tests need
# installed and started here, idempotently. CI (.ci/run) calls exactly this script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

if [[ -n "${CI:-}" ]]; then
  # A clean clone builds once: incremental caches would only double the disk the build needs.
  export CARGO_INCREMENTAL=0
fi
df -h . >&2 || true

step "services the tests need"
./scripts/services.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, all features, warnings denied)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "doc tests"
cargo test --workspace --all-features --locked --doc

if [[ "${KSX_BROWSER_TESTS:-}" == 1 ]] && ! command -v chromium >/dev/null 2>&1; then
  step "chromium for the opt-in browser check (KSX_BROWSER_TESTS=1)"
  sudo_cmd=""
  if [[ "$(id -u)" != 0 ]]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y --no-install-recommends chromium
fi

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --locked --no-fail-fast
else
  cargo test --workspace --all-features --locked --no-fail-fast
fi
