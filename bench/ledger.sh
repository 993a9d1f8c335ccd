#!/usr/bin/env bash
# Ledger benchmark on throw-away SQLite and PostgreSQL databases, next to pgbench's TPC-B-like
# reference on the same server. Prints a table and writes bench/results/ledger-<db>.json.
#   bash bench/ledger.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
BIN=.venv/bin
out=bench/results
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; dropdb -h 127.0.0.1 -U postgres --if-exists paybao_bench_ledger >/dev/null 2>&1 || true; dropdb -h 127.0.0.1 -U postgres --if-exists paybao_bench_pgbench >/dev/null 2>&1 || true' EXIT

echo "== paybao bench ledger on SQLite"
$BIN/paybao bench ledger --database-url "sqlite:///$tmp/bench.sqlite3" --seconds "$seconds" \
  --submitters 1024 --single-threads 4 --json | tee "$out/ledger-sqlite.json"

echo "== pgbench -c 2 -j 2 -T 30 (TPC-B-like reference)"
createdb -h 127.0.0.1 -U postgres paybao_bench_pgbench
pgbench -h 127.0.0.1 -U postgres -i -s 10 -q paybao_bench_pgbench >/dev/null 2>&1
pgbench_tps=$(pgbench -h 127.0.0.1 -U postgres -c 2 -j 2 -T 30 paybao_bench_pgbench 2>/dev/null \
  | awk '/^tps/ {print $3; exit}')
echo "pgbench tps: $pgbench_tps"

echo "== paybao bench ledger on PostgreSQL"
createdb -h 127.0.0.1 -U postgres paybao_bench_ledger
$BIN/paybao bench ledger \
  --database-url "postgresql+psycopg://postgres@127.0.0.1:5432/paybao_bench_ledger" \
  --seconds "$seconds" --submitters 128 --single-threads 16 --json | tee "$tmp/pg.json"
$BIN/python - "$tmp/pg.json" "$pgbench_tps" "$out/ledger-postgresql.json" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
tps = float(sys.argv[2])
result["pgbench_tpcb_tps"] = tps
result["group_commit_vs_pgbench"] = round(result["group_commit_per_s"] / tps, 2)
result["single_commit_vs_pgbench"] = round(result["single_commit_per_s"] / tps, 2)
json.dump(result, open(sys.argv[3], "w"), indent=2)
print(json.dumps(result, indent=2))
PY
