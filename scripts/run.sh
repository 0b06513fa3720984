#!/usr/bin/env bash
# README command 1: installs what is missing, builds, starts the service on a private
# PostgreSQL (data in ./var/pg), and runs a demo sale: a new item with 20 units and a crowd of
# 200 buyers. The service then keeps running for you to explore; Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

public=127.0.0.1:8080
admin=127.0.0.1:8081
build/bin/flashsale serve "$@" &
service=$!
# Ctrl-C reaches the service directly (same process group): let it drain. A TERM sent to this
# script alone is passed on. Sending INT again would make the service stop at once.
trap 'wait "$service" || true; exit 0' INT
trap 'kill -TERM "$service" 2>/dev/null || true; wait "$service" || true; exit 0' TERM

for _ in $(seq 1 300); do
  curl -sf "http://$public/readyz" >/dev/null 2>&1 && break
  kill -0 "$service" 2>/dev/null || { wait "$service"; exit $?; }
  sleep 0.1
done
curl -sf "http://$public/readyz" >/dev/null || { echo "run: the service did not get ready" >&2; exit 1; }

# Names of this run's own, so a second run on the same data folder starts a new sale.
run_id="$(date +%s)"
item="sneakers-$run_id"
echo
echo "== demo sale: $item, 20 units, a crowd of 200 buyers arriving at 100 per second"
build/bin/flashsale-loadgen --port "${public##*:}" --admin-port "${admin##*:}" \
  --create-item "$item" --stock 20 --payment-window 120 \
  --item "$item" --requests 200 --rate 100 --connections 50 \
  --users 200 --user-prefix "buyer-$run_id-" --progress >/dev/null
echo
echo "== the item now (GET http://$admin/admin/items/$item)"
curl -s "http://$admin/admin/items/$item"; echo
echo
echo "== the head of the waiting line (GET http://$admin/admin/items/$item/waitlist?limit=3)"
curl -s "http://$admin/admin/items/$item/waitlist?limit=3"; echo
first=$(curl -s "http://$admin/admin/items/$item/leases?limit=1" | sed -n 's/.*"order_id": "\([^"]*\)".*/\1/p')
buyer=$(curl -s "http://$admin/admin/items/$item/leases?limit=1" | sed -n 's/.*"user_id": "\([^"]*\)".*/\1/p')
sleep 1  # the payment link is made by a job, right after the reservation
echo
echo "== a reserved order with its payment link (GET /v1/orders/$first as $buyer)"
curl -s "http://$public/v1/orders/$first" -H "X-User-Id: $buyer"; echo
cat <<EOT

The service keeps running. Try:
  # pay for that order (the payment provider's callback):
  curl -X POST http://$public/v1/payments/webhook \\
       -d '{"event_id": "demo-pay-$run_id", "order_id": "$first", "outcome": "succeeded"}'
  curl -X POST http://$public/v1/items/$item/orders -H 'X-User-Id: you' -H 'Idempotency-Key: $run_id'
  curl http://$public/v1/orders -H 'X-User-Id: you'
  curl http://$admin/admin/items/$item/waitlist
  curl http://$public/metrics
  # the buyer's own events, pushed over a WebSocket (Ctrl-C ends it):
  #   build/bin/flashsale stream --user $buyer --since 0/0/0
  # more in docs/api.md: every example there works against this service.
Leases last 120 s: when they run out, the expiry jobs give the units to the next in line.
Ctrl-C stops the service.
EOT
wait "$service"
