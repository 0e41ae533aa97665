#!/usr/bin/env bash
# Start a throwaway Prometheus on 127.0.0.1 with deterministic, backfilled series
# that cover the last few hours, so dashboards with a 1h range have data at once.
#
#   hack/prometheus/start.sh <datadir> <port>
#
# The script backfills TSDB blocks with promtool, writes a minimal config that
# scrapes Prometheus itself (so live series exist too), and then execs Prometheus
# in the foreground: the caller's PID becomes Prometheus's PID, stop it with SIGTERM.
#
# Series (the last sample of every series sits at the generation time and has a
# fixed value, so instant queries have a known answer):
#   vllm:num_requests_running{namespace,model_name}      gauge, last value 3 (team-a/m1), 5 (team-b/m2)
#   vllm:num_requests_waiting{namespace,model_name}      gauge, last value 1 (team-a/m1), 2 (team-b/m2)
#   vllm:request_success_total{namespace,model_name,finished_reason="stop"}  counter, +1 per second
#   container_cpu_usage_seconds_total{namespace,pod,container}  counter, +0.25 (team-a) / +0.5 (team-b) per second
#   container_memory_working_set_bytes{namespace,pod,container} gauge, last value 512 MiB (team-a) / 1 GiB (team-b)
#   DCGM_FI_DEV_GPU_UTIL{namespace="nvidia-gpu-operator",exported_namespace,exported_pod,gpu="0"} gauge, last value 40 / 80
#   up{job="workload",namespace,instance}                 gauge, always 1
# Environment: PROMETHEUS_BIN, PROMTOOL_BIN (defaults /usr/bin/prometheus, /usr/bin/promtool),
# BACKFILL_HOURS (default 3), BACKFILL_STEP_SECONDS (default 15).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <datadir> <port>" >&2
  exit 2
fi
datadir=$1
port=$2
prometheus_bin=${PROMETHEUS_BIN:-/usr/bin/prometheus}
promtool_bin=${PROMTOOL_BIN:-/usr/bin/promtool}
hours=${BACKFILL_HOURS:-3}
step=${BACKFILL_STEP_SECONDS:-15}

for bin in "$prometheus_bin" "$promtool_bin"; do
  if [[ ! -x $bin ]]; then
    echo "prometheus not installed ($bin missing): run \`make deps\` (apt-get install prometheus)" >&2
    exit 1
  fi
done

mkdir -p "$datadir/tsdb"
now=$(date +%s)
samples=$((hours * 3600 / step))

# One series per line of the table below: name|labels|kind|last value|increment per step
# kind "gauge" oscillates below its last value, kind "counter" grows by the increment each step.
awk -v now="$now" -v samples="$samples" -v step="$step" '
BEGIN {
  n = 0
  add("vllm:num_requests_running", "namespace=\"team-a\",model_name=\"m1\"", "gauge", 3, 0)
  add("vllm:num_requests_running", "namespace=\"team-b\",model_name=\"m2\"", "gauge", 5, 0)
  add("vllm:num_requests_waiting", "namespace=\"team-a\",model_name=\"m1\"", "gauge", 1, 0)
  add("vllm:num_requests_waiting", "namespace=\"team-b\",model_name=\"m2\"", "gauge", 2, 0)
  add("vllm:request_success", "namespace=\"team-a\",model_name=\"m1\",finished_reason=\"stop\"", "counter", 0, step)
  add("vllm:request_success", "namespace=\"team-b\",model_name=\"m2\",finished_reason=\"stop\"", "counter", 0, step)
  add("container_cpu_usage_seconds", "namespace=\"team-a\",pod=\"notebook-a-0\",container=\"notebook\"", "counter", 0, 0.25 * step)
  add("container_cpu_usage_seconds", "namespace=\"team-b\",pod=\"notebook-b-0\",container=\"notebook\"", "counter", 0, 0.5 * step)
  add("container_memory_working_set_bytes", "namespace=\"team-a\",pod=\"notebook-a-0\",container=\"notebook\"", "gauge", 536870912, 0)
  add("container_memory_working_set_bytes", "namespace=\"team-b\",pod=\"notebook-b-0\",container=\"notebook\"", "gauge", 1073741824, 0)
  add("DCGM_FI_DEV_GPU_UTIL", "namespace=\"nvidia-gpu-operator\",exported_namespace=\"team-a\",exported_pod=\"train-a-0\",gpu=\"0\"", "gauge", 40, 0)
  add("DCGM_FI_DEV_GPU_UTIL", "namespace=\"nvidia-gpu-operator\",exported_namespace=\"team-b\",exported_pod=\"train-b-0\",gpu=\"0\"", "gauge", 80, 0)
  add("up", "job=\"workload\",namespace=\"team-a\",instance=\"m1-predictor:8080\"", "gauge", 1, 0)
  add("up", "job=\"workload\",namespace=\"team-b\",instance=\"m2-predictor:8080\"", "gauge", 1, 0)

  for (i = 0; i < n; i++) {
    family = name[i]
    if (family != previous) {
      printf "# TYPE %s %s\n", family, kind[i]
      previous = family
    }
    sample = family
    if (kind[i] == "counter") sample = family "_total"
    for (k = samples; k >= 0; k--) {
      # k counts steps back from now, so the last sample (k = 0) has a fixed value.
      ts = now - k * step
      if (kind[i] == "counter") {
        v = (samples - k) * inc[i]
      } else if (family == "up") {
        v = last[i]
      } else {
        v = last[i] - (k % 5) * last[i] / 10
      }
      printf "%s{%s} %s %d\n", sample, labels[i], v, ts
    }
  }
  print "# EOF"
}
function add(n_, l_, k_, last_, inc_) {
  name[n] = n_; labels[n] = l_; kind[n] = k_; last[n] = last_; inc[n] = inc_; n++
}' >"$datadir/backfill.om"

"$promtool_bin" tsdb create-blocks-from openmetrics --quiet "$datadir/backfill.om" "$datadir/tsdb" >"$datadir/backfill.log" 2>&1 || {
  cat "$datadir/backfill.log" >&2
  exit 1
}

cat >"$datadir/prometheus.yml" <<EOF
global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:${port}']
EOF

exec "$prometheus_bin" \
  --config.file="$datadir/prometheus.yml" \
  --storage.tsdb.path="$datadir/tsdb" \
  --storage.tsdb.retention.time=1d \
  --web.listen-address="127.0.0.1:${port}" \
  --web.enable-remote-write-receiver \
  --log.level=warn
