#!/usr/bin/env bash
# Scale-out, shown: two web processes on two ports and two workers on the same
# PostgreSQL and Redis. A checkout whose requests alternate between the ports
# places an order; then a shipping day over every order, shipped in chunks by
# both workers, must capture each order exactly once (the script exits 1 if not).
#   bash bench/scale_out.sh                 # 200 orders
#   ORDERS=1000 bash bench/scale_out.sh
# Env: DATABASE_URL (dropped and re-created; default postgres://postgres@127.0.0.1:5432/wt15_scaleout),
#      CACHE_URL (default redis://127.0.0.1:6379/15), PORT (first web port, default 8960).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/shipping_day.py --orders "${ORDERS:-200}" --webs 2 --workers 2 \
  --cross-checkout --port "${PORT:-8960}" \
  --database-url "${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/wt15_scaleout}" \
  --cache-url "${CACHE_URL:-redis://127.0.0.1:6379/15}"
