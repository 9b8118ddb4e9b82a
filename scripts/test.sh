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

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --locked --no-fail-fast
else
  cargo test --workspace --all-features --locked --no-fail-fast
fi
