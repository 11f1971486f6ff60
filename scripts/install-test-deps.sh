#!/usr/bin/env bash
# Installs the external programs Herald's test suites talk to. Idempotent:
# each dependency is installed only when it is missing. CI runs this first.
set -euo pipefail

PYTHON="${PYTHON:-python3}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "install-test-deps: $PYTHON not found; install Python 3 first" >&2
    exit 1
fi

# herald-mail: a real SMTP server (aiosmtpd) for the SMTP transport tests.
if ! "$PYTHON" -c 'import aiosmtpd' >/dev/null 2>&1; then
    # --break-system-packages only exists (and is only needed) on newer pips
    # with an externally-managed system Python.
    if "$PYTHON" -m pip install --help 2>/dev/null | grep -q -- '--break-system-packages'; then
        "$PYTHON" -m pip install --quiet --break-system-packages aiosmtpd==1.4.6
    else
        "$PYTHON" -m pip install --quiet aiosmtpd==1.4.6
    fi
fi

# herald-mail: an independent DKIM verifier (dkimpy; PyNaCl for ed25519-sha256)
# for the DKIM tests.
if ! "$PYTHON" -c 'import dkim, nacl' >/dev/null 2>&1; then
    if "$PYTHON" -m pip install --help 2>/dev/null | grep -q -- '--break-system-packages'; then
        "$PYTHON" -m pip install --quiet --break-system-packages dkimpy==1.1.8 pynacl==1.6.2
    else
        "$PYTHON" -m pip install --quiet dkimpy==1.1.8 pynacl==1.6.2
    fi
fi
