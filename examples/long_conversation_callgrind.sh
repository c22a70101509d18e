#!/usr/bin/env bash
# Instructions per run at the start of a session and after 9,900 runs of it (callgrind counts
# instructions, so the comparison does not depend on the machine's load). Usage:
#   bash examples/long_conversation_callgrind.sh [runs=100] [prefill=9900]
# Each figure is (instructions of a call making `runs` runs) minus (instructions of the same
# call making 0 runs), over `runs`: opening the file, the warm-up and shutting down cancel out.
set -euo pipefail
runs=${1:-100}
prefill=${2:-9900}
cd "$(dirname "$0")/.."
cargo build -q --release --example long_conversation
bin=target/release/examples/long_conversation
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

instructions() { # db-file runs
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bin" --db="$1" "$2" >/dev/null 2>"$work/vg.log"
  grep -m1 '^summary:' "$work/cg.out" | awk '{print $2}'
}

per_run() { # template-db (or "" for a new session) label
  local zero many
  rm -f "$work"/m.db*; [ -n "$1" ] && cp "$1" "$work/m.db"
  zero=$(instructions "$work/m.db" 0)
  rm -f "$work"/m.db*; [ -n "$1" ] && cp "$1" "$work/m.db"
  many=$(instructions "$work/m.db" "$runs")
  echo "$2: $(( (many - zero) / runs )) instructions per run (runs $3)"
}

"$bin" --db="$work/full.db" "$prefill" >/dev/null
sqlite_wal_gone() { [ ! -s "$work/full.db-wal" ]; }
sqlite_wal_gone || true
per_run "" "new session" "1-$runs"
per_run "$work/full.db" "long session" "$((prefill + 1))-$((prefill + runs))"
