#!/usr/bin/env bash
# The test command of the README: installs what the tests talk to (a real
# SMTP server, aiosmtpd), then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
cargo test --workspace "$@"
