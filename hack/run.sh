#!/usr/bin/env bash
# `make run`: serve the product with the embedded default configuration. When
# PROMETHEUS_URL is not set, it first starts demo data so that every template panel has
# something to show: bin/demo-exporter (simulated workloads of team-a and team-b) and a
# local Prometheus (the Debian package) scraping it every 5 s, both on loopback, both
# stopped (by PID) when the server stops. With PROMETHEUS_URL set, only the server runs.
#
#   hack/run.sh <listen-address>
set -euo pipefail
listen=${1:-127.0.0.1:8080}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [[ -z ${PROMETHEUS_URL:-} ]]; then
  prom_port=${DEMO_PROMETHEUS_PORT:-9090}
  exporter=${DEMO_EXPORTER_ADDRESS:-127.0.0.1:9101}
  prometheus_bin=${PROMETHEUS_BIN:-/usr/bin/prometheus}
  if [[ ! -x $prometheus_bin ]]; then
    echo "run: PROMETHEUS_URL is not set and $prometheus_bin is missing: no demo data (install it with \`make deps\`, or set PROMETHEUS_URL)" >&2
  elif (exec 3<>"/dev/tcp/127.0.0.1/$prom_port") 2>/dev/null; then
    echo "run: something already listens on 127.0.0.1:$prom_port; using it as Prometheus (set PROMETHEUS_URL to choose another)" >&2
  else
    data=$root/data/demo-prometheus
    mkdir -p "$data"
    bin/demo-exporter --listen "$exporter" >"$data/exporter.log" 2>&1 &
    pids+=($!)
    cat >"$data/prometheus.yml" <<CONF
global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
  - job_name: demo-workloads
    honor_labels: true   # the simulated series carry their own namespace labels
    static_configs:
      - targets: ['$exporter']
CONF
    "$prometheus_bin" --config.file="$data/prometheus.yml" --storage.tsdb.path="$data/tsdb" \
      --storage.tsdb.retention.time=1d --web.listen-address="127.0.0.1:$prom_port" --log.level=warn \
      >"$data/prometheus.log" 2>&1 &
    pids+=($!)
    demo=1
    echo "run: demo data: bin/demo-exporter on $exporter, Prometheus on http://127.0.0.1:$prom_port (logs in $data)" >&2
  fi
  export PROMETHEUS_URL=http://127.0.0.1:$prom_port
fi

bin/perses --config perses-config.yaml --web.listen-address "$listen" &
server=$!
pids+=("$server")

if [[ -n ${demo:-} ]]; then
  # The demo namespaces as projects (each gets its Prometheus datasource), once the
  # server answers; an existing project is left as it is.
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://$listen/api/v1/health" 2>/dev/null && break
    sleep 0.2
  done
  for project in team-a team-b; do
    curl -sS -o /dev/null -X POST -H 'Content-Type: application/json' \
      -d "{\"kind\":\"Project\",\"metadata\":{\"name\":\"$project\"}}" "http://$listen/api/v1/projects" || true
    curl -sS -o /dev/null "http://$listen/api/v1/projects/$project/datasources" || true
  done
  echo "run: demo projects team-a and team-b: http://$listen/projects/team-a" >&2
fi
wait "$server"
