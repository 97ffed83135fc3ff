#!/usr/bin/env bash
# Prepares a fresh machine: pnpm, the workspace's dependencies and, with --test,
# the system packages the test suites start for real (nats-server, chromium).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

PNPM_VERSION=10.34.9
with_test=false
[[ "${1:-}" == "--test" ]] && with_test=true

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

if $with_test; then
  missing=()
  command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
  [[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]] || missing+=(chromium)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  command -v ss >/dev/null 2>&1 || missing+=(iproute2)
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]} with apt-get" >&2
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [[ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]]; then
  echo "setup: installing pnpm@$PNPM_VERSION" >&2
  npm install --global --silent "pnpm@$PNPM_VERSION"
fi

export TURBO_TELEMETRY_DISABLED=1
pnpm install --frozen-lockfile --reporter=silent
