#!/usr/bin/env bash
# The Grafana dashboard and the alert rules answered by a real Prometheus (issue 15): starts a
# throwaway PostgreSQL 15, `flashsale serve`, and Prometheus 2 (Debian's `prometheus`) scraping
# the admin listener every second with deploy/prometheus/flashsale.rules.yml loaded; plays a
# short sale (a crowd on two items with 5 s payment windows, so leases lapse and the line is
# promoted, and WebSocket clients that get pushes); then asks Prometheus every expression of
# deploy/grafana/flashsale.json over the load window, and the state of every alert.
#
# Writes a Markdown report: per panel, each query with its series as a sparkline over the window
# and the last value. It stands in for a screenshot where Grafana cannot be installed (it is not
# packaged by Debian). See bench/README.md, "Monitoring".
#
# usage: bench/monitoring.sh [--duration S] [--rate R] [--out FILE] [--keep]
set -euo pipefail

BENCH_NAME=monitoring
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-60}  # seconds of load
RATE=${RATE:-200}         # placements per second
OUT=${OUT:-}              # also copy the report here (e.g. docs/monitoring-demo.md)
KEEP=${KEEP:-0}

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) need_value "$@"; DURATION=$2; shift 2 ;;
    --rate) need_value "$@"; RATE=$2; shift 2 ;;
    --out) need_value "$@"; OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 20 ]] || die "--duration: a whole number of seconds, 20 or more"
[[ $RATE =~ ^[0-9]+$ && $RATE -ge 1 ]] || die "--rate: a whole number of placements per second"
for tool in prometheus jq curl; do
  command -v "$tool" >/dev/null || die "$tool is missing: apt-get install prometheus jq curl (scripts/install-deps.sh installs them)"
done

bench_build 0 flashsale flashsale-loadgen flashsale-wsbench
make_work_dir
PROM_PID=""
WS_PID=""
cleanup() {
  local rc=$?
  set +e
  [[ -n $WS_PID ]] && stop_pid "$WS_PID" 5
  [[ -n $PROM_PID ]] && stop_pid "$PROM_PID" 10
  stop_service
  pg_stop_cluster
  if [[ $KEEP == 1 ]]; then echo "monitoring: kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_start_cluster "max_connections = 100" "wal_level = logical"
psql_db -d postgres -c "CREATE DATABASE flashsale" >/dev/null
start_service flashsale "$WORK/service.log"
log "flashsale: public $PUBLIC_PORT, admin $ADMIN_PORT"

free_port
PROM_PORT=$FREE_PORT
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $ROOT/deploy/prometheus/flashsale.rules.yml
scrape_configs:
  - job_name: flashsale
    static_configs:
      - targets: ["127.0.0.1:$ADMIN_PORT"]
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
PROM=http://127.0.0.1:$PROM_PORT
for _ in $(seq 1 100); do
  curl -sf "$PROM/-/ready" >/dev/null && break
  kill -0 "$PROM_PID" 2>/dev/null || { tail -20 "$WORK/prometheus.log" >&2; die "prometheus exited"; }
  sleep 0.2
done
curl -sf "$PROM/-/ready" >/dev/null || die "prometheus not ready within 20 s"
log "prometheus 127.0.0.1:$PROM_PORT, scraping 127.0.0.1:$ADMIN_PORT every second"

# The crowd: users user-0.. place on two items, each user once per item (per_user_limit 1, so a
# second try is refused), leases of 5 s lapse (nobody pays) and promote the line; the first
# 200 users have a WebSocket open and get their pushes.
for item in drop-a drop-b; do
  curl -sf -X POST "http://127.0.0.1:$ADMIN_PORT/admin/items" -H 'Content-Type: application/json' \
    -d "{\"id\":\"$item\",\"name\":\"$item\",\"total_stock\":100,\"payment_window_s\":5,\"per_user_limit\":1}" >/dev/null
done
"$BUILD/bin/flashsale-wsbench" --port "$PUBLIC_PORT" --connections 200 --user-prefix user- \
  --duration $((DURATION + 30)) >"$WORK/wsbench.json" 2>"$WORK/wsbench.log" &
WS_PID=$!
sleep 3
START=$(date +%s)
log "load: $RATE placements/s for $DURATION s"
"$BUILD/bin/flashsale-loadgen" --port "$PUBLIC_PORT" --item drop-a,drop-b --rate "$RATE" \
  --duration "$DURATION" --connections 50 --users $((RATE * DURATION / 3)) >"$WORK/loadgen.json" 2>"$WORK/loadgen.log" ||
  die "loadgen failed: $(tail -3 "$WORK/loadgen.log")"
sleep 10  # the last leases lapse, and a few more scrapes
END=$(date +%s)
STEP=$(((END - START) / 30))
((STEP > 0)) || STEP=1

# sparkline VALUES...: one mark per value, scaled between their min and max; a flat series is a
# row of middle marks, a value that is no number (NaN) a dot.
sparkline() {
  awk 'BEGIN { split("▁ ▂ ▃ ▄ ▅ ▆ ▇ █", bar, " "); number = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$" }
    { for (i = 1; i <= NF; i++) { v[i] = $i; if ($i !~ number) continue; x = $i + 0
        if (!seen || x < lo) lo = x; if (!seen || x > hi) hi = x; seen = 1 } n = NF }
    END { for (i = 1; i <= n; i++) {
        if (v[i] !~ number) { printf "·"; continue }
        k = (hi > lo) ? int((v[i] - lo) / (hi - lo) * 7.999) + 1 : 4; printf "%s", bar[k] } }'
}

# answer EXPR: "labels sparkline last" per series (at most 6), or "no data".
answer() {
  local body
  body=$(curl -sf "$PROM/api/v1/query_range" --data-urlencode "query=$1" \
    --data-urlencode "start=$START" --data-urlencode "end=$END" --data-urlencode "step=$STEP") ||
    { echo "query failed"; return; }
  [[ $(jq -r '.data.result | length' <<<"$body") != 0 ]] || { echo "no data"; return; }
  local n i labels values last
  n=$(jq -r '.data.result | length' <<<"$body")
  for ((i = 0; i < n && i < 6; i++)); do
    labels=$(jq -r ".data.result[$i].metric | del(.__name__, .instance, .job) | to_entries | map(\"\(.key)=\(.value)\") | join(\",\")" <<<"$body")
    values=$(jq -r ".data.result[$i].values | map(.[1]) | join(\" \")" <<<"$body")
    last=$(awk '$NF ~ /^[-+0-9.]/ { printf "%.4g", $NF; next } { printf "%s", $NF }' <<<"$values")
    # shellcheck disable=SC2016  # the backquotes are Markdown
    printf '`{%s}` %s %s<br>' "$labels" "$(sparkline <<<"$values")" "$last"
  done
  ((n > 6)) && printf '(%d more series)' $((n - 6))
  echo
}

mkdir -p "$RESULTS_DIR"
REPORT=$RESULTS_DIR/monitoring-$(date +%Y%m%d-%H%M%S).md
log "asking prometheus every panel's queries"
{
  echo "# The dashboard's queries, answered by Prometheus"
  echo
  echo "Made by \`bench/monitoring.sh --duration $DURATION --rate $RATE\` on $(date -u +%Y-%m-%d), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo " (dirty tree)")."
  echo "Prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') scraped the admin listener every second while"
  echo "\`flashsale-loadgen\` placed $RATE orders/s on items \`drop-a\` and \`drop-b\` (100 units each, 5 s payment"
  echo "windows, nobody pays) for $DURATION s, and 200 users had a WebSocket open. Every panel of"
  echo "\`deploy/grafana/flashsale.json\` is asked over the window (\`\$__rate_interval\` = 30s, \`\$item\` ="
  echo "\`drop-a\`): each series as a sparkline (its own min to max, one mark per ${STEP} s) and its last value."
  echo
  echo "Loadgen: \`$(tail -1 "$WORK/loadgen.json")\`"
  echo
  jq -r '.panels[] | select(.type != "row") | [.title, (.targets | length)] | @tsv' \
    "$ROOT/deploy/grafana/flashsale.json" >"$WORK/panels.tsv"
  local_i=0
  while IFS=$'\t' read -r title count; do
    echo "## $title"
    echo
    echo "| query | answer |"
    echo "|---|---|"
    for ((t = 0; t < count; t++)); do
      expr=$(jq -r ".panels | map(select(.type != \"row\"))[$local_i].targets[$t].expr" "$ROOT/deploy/grafana/flashsale.json")
      q=${expr//\$__rate_interval/30s}
      q=${q//\$item/drop-a}
      echo "| \`${expr//|/\\|}\` | $(answer "$q") |"
    done
    echo
    local_i=$((local_i + 1))
  done <"$WORK/panels.tsv"
  echo "## Alerts at the end of the run"
  echo
  echo "| alert | state |"
  echo "|---|---|"
  curl -sf "$PROM/api/v1/rules" | jq -r '.data.groups[].rules[] | "| \(.name) | \(.state) |"'
} >"$REPORT"
log "report: $REPORT"
if [[ -n $OUT ]]; then cp "$REPORT" "$OUT"; log "copied to $OUT"; fi
