#!/usr/bin/env bash
# Herald's benchmark: builds the release binary, makes sure postfix's
# smtp-sink/smtp-source are installed, runs `herald bench http` and
# `herald bench smtp`, and prints the results. See BENCHMARKS.md.
#
# Usage: scripts/bench.sh [--seconds N] [--connections C] [--rate R] [--messages M] [--json]
# Environment: BENCH_OUT=dir keeps the outputs (default: a temporary directory).
set -euo pipefail

cd "$(dirname "$0")/.."

SECONDS_PER_PHASE=10
CONNECTIONS=32
RATE=1000
MESSAGES=20000
JSON=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) SECONDS_PER_PHASE="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --messages) MESSAGES="$2"; shift 2 ;;
        --json) JSON=(--json); shift ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

echo "== build"
cargo build --release -p herald
TARGET_DIR="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
HERALD="$TARGET_DIR/release/herald"

have_sink() {
    command -v smtp-sink >/dev/null 2>&1 || [[ -x /usr/sbin/smtp-sink ]]
}
if ! have_sink; then
    echo "== installing postfix (smtp-sink, smtp-source)"
    SUDO=""
    [[ "$(id -u)" -ne 0 ]] && SUDO="sudo"
    # "No configuration": only the tools are needed, not a running MTA.
    echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
    echo "postfix postfix/mailname string localhost" | $SUDO debconf-set-selections
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y postfix
fi

OUT="${BENCH_OUT:-$(mktemp -d)}"
mkdir -p "$OUT"

echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "== commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
echo "== date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "== load average before the run: $(cut -d" " -f1-3 /proc/loadavg) (other processes share the CPUs; see BENCHMARKS.md)"

echo "== herald bench http --seconds $SECONDS_PER_PHASE --connections $CONNECTIONS --rate $RATE ${JSON[*]}"
"$HERALD" bench http --seconds "$SECONDS_PER_PHASE" --connections "$CONNECTIONS" --rate "$RATE" "${JSON[@]}" | tee "$OUT/http.txt"

echo "== herald bench smtp --messages $MESSAGES ${JSON[*]}"
"$HERALD" bench smtp --messages "$MESSAGES" "${JSON[@]}" | tee "$OUT/smtp.txt"

echo "== results kept in $OUT"
