#!/bin/sh
# Creates, once, a virtualenv with detect-secrets 1.5.0 (pinned, from PyPI) under the
# workspace's target/tmp/ and prints the path of its `detect-secrets` executable. Used by
# `cargo bench -p arkbridge-scanner --bench scan` when ARKBRIDGE_DETECT_SECRETS is not set.
set -eu
root="$(cd "$(dirname "$0")/../../.." && pwd)"
venv="${ARKBRIDGE_BENCH_VENV:-$root/target/tmp/detect-secrets-venv}"
exe="$venv/bin/detect-secrets"
if [ ! -x "$exe" ] || [ "$("$exe" --version 2>/dev/null)" != "1.5.0" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'detect-secrets==1.5.0' >&2
fi
echo "$exe"
