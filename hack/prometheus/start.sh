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
# and, for the dashboard templates (extension/templates): team-b's workloads m2, notebook-b
# (pod notebook-b-0), train-b (pod train-b-0) and pipeline iris-pipeline (pods
# iris-pipeline-x9y8z-step-1..3) give every panel of every template data
# (e2e/templates_test.go), and team-a's m1, notebook-a, train-a and iris-pipeline (pods
# iris-pipeline-a1b2c-step-1..3) the same series where that leaves the values above and
# their sums in team-a unchanged (so no team-a container memory or GPU utilisation beyond
# the rows above). Last values team-b / team-a:
#   vllm:{e2e_request_latency,time_to_first_token,inter_token_latency}_seconds_bucket{namespace,model_name,le}
#                                                         cumulative buckets of 2 requests/s (m2) / 1 (m1)
#   vllm:prompt_tokens_total, vllm:generation_tokens_total{namespace,model_name}  counters, +400 / +100 per second (m2), +200 / +50 (m1)
#   vllm:kv_cache_usage_perc{namespace,model_name}        gauge, 0.73 / 0.42
#   container_cpu_usage_seconds_total{…,container}        train-b-0 (pytorch) +4 per second, iris-pipeline-x9y8z-step-3 (main) +1 /
#                                                         train-a-0 +2, iris-pipeline-a1b2c-step-3 +0.5
#   container_memory_working_set_bytes{…,container}       train-b-0 16 GiB, iris-pipeline-x9y8z-step-3 512 MiB (team-b only)
#   DCGM_FI_DEV_GPU_UTIL of notebook-b-0 (gpu 1)          60 (team-b only)
#   DCGM_FI_DEV_FB_USED{…,exported_pod} (MiB)             train-b-0 40960, notebook-b-0 8192 / train-a-0 20480, notebook-a-0 4096
#   DCGM_FI_DEV_POWER_USAGE{…,exported_pod} (W)           train-b-0 300 / train-a-0 250
#   kube_pod_status_phase{namespace,pod,phase}            train-b-0, train-a-0: Running 1, Failed 0 (constant)
#   kube_pod_container_resource_requests{namespace,pod,container,resource,unit}  notebook-b-0 cpu 1, memory 2 GiB / notebook-a-0 0.5, 1 GiB
#   kube_pod_container_resource_limits{…}                 notebook-b-0 cpu 4, memory 4 GiB / notebook-a-0 2, 2 GiB
#   kube_pod_start_time, kube_pod_completion_time{namespace,pod,uid}  (constant) steps 1 and 2 ran 900 s and 300 s / 600 s and 120 s
#   training_loss, training_accuracy{namespace,pod}       train-b-0 0.9, 0.55 / train-a-0 0.35, 0.91
#   training_samples_total{namespace,pod}                 counter, +64 per second (train-b-0) / +128 (train-a-0)
#   notebook_running{namespace}                           1 / 2 (constant)
#   notebook_culling_total{namespace,name}                counter, +2 an hour (notebook-b) / +1 (notebook-a)
#   last_notebook_culling_timestamp_seconds{namespace,name}  generation time - 600 / - 1800 (constant)
#   argo_workflows_gauge{namespace,phase}                 Running 4, Succeeded 9, Failed 3 / 2, 5, 1 (constant)
#   argo_workflows_pods_gauge{namespace,phase}            Running 6, Pending 2 / 3, 1 (constant)
#   argo_workflows_error_count{namespace,cause}           cumulative, +1 every 5 min / 10 min
#   argo_workflows_operation_duration_seconds_bucket{namespace,le}  cumulative buckets of 0.4 operations/s / 0.2
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
# kind "gauge" oscillates below its last value, kind "counter" grows by the increment each step,
# kind "cumulative" too but keeps its name (no _total: histogram buckets, Argo's counters), kind
# "constant" keeps its last value. A family's series must be next to each other (OpenMetrics).
awk -v now="$now" -v samples="$samples" -v step="$step" '
BEGIN {
  n = 0
  add("vllm:num_requests_running", "namespace=\"team-a\",model_name=\"m1\"", "gauge", 3, 0)
  add("vllm:num_requests_running", "namespace=\"team-b\",model_name=\"m2\"", "gauge", 5, 0)
  add("vllm:num_requests_waiting", "namespace=\"team-a\",model_name=\"m1\"", "gauge", 1, 0)
  add("vllm:num_requests_waiting", "namespace=\"team-b\",model_name=\"m2\"", "gauge", 2, 0)
  add("vllm:request_success", "namespace=\"team-a\",model_name=\"m1\",finished_reason=\"stop\"", "counter", 0, step)
  add("vllm:request_success", "namespace=\"team-b\",model_name=\"m2\",finished_reason=\"stop\"", "counter", 0, step)
  hist("vllm:e2e_request_latency_seconds_bucket", "namespace=\"team-a\",model_name=\"m1\"", "0.25 0.5 1 2.5 5 +Inf", "0.1 0.35 0.7 0.9 0.98 1", 1)
  hist("vllm:e2e_request_latency_seconds_bucket", "namespace=\"team-b\",model_name=\"m2\"", "0.25 0.5 1 2.5 5 +Inf", "0.05 0.2 0.5 0.8 0.95 1", 2)
  hist("vllm:time_to_first_token_seconds_bucket", "namespace=\"team-a\",model_name=\"m1\"", "0.05 0.1 0.25 0.5 1 +Inf", "0.2 0.5 0.8 0.95 0.99 1", 1)
  hist("vllm:time_to_first_token_seconds_bucket", "namespace=\"team-b\",model_name=\"m2\"", "0.05 0.1 0.25 0.5 1 +Inf", "0.1 0.3 0.6 0.9 0.98 1", 2)
  hist("vllm:inter_token_latency_seconds_bucket", "namespace=\"team-a\",model_name=\"m1\"", "0.01 0.025 0.05 0.1 0.25 +Inf", "0.1 0.5 0.85 0.97 0.99 1", 1)
  hist("vllm:inter_token_latency_seconds_bucket", "namespace=\"team-b\",model_name=\"m2\"", "0.01 0.025 0.05 0.1 0.25 +Inf", "0.05 0.3 0.7 0.9 0.99 1", 2)
  add("vllm:prompt_tokens", "namespace=\"team-a\",model_name=\"m1\"", "counter", 0, 200 * step)
  add("vllm:prompt_tokens", "namespace=\"team-b\",model_name=\"m2\"", "counter", 0, 400 * step)
  add("vllm:generation_tokens", "namespace=\"team-a\",model_name=\"m1\"", "counter", 0, 50 * step)
  add("vllm:generation_tokens", "namespace=\"team-b\",model_name=\"m2\"", "counter", 0, 100 * step)
  add("vllm:kv_cache_usage_perc", "namespace=\"team-a\",model_name=\"m1\"", "gauge", 0.42, 0)
  add("vllm:kv_cache_usage_perc", "namespace=\"team-b\",model_name=\"m2\"", "gauge", 0.73, 0)
  add("container_cpu_usage_seconds", "namespace=\"team-a\",pod=\"notebook-a-0\",container=\"notebook\"", "counter", 0, 0.25 * step)
  add("container_cpu_usage_seconds", "namespace=\"team-b\",pod=\"notebook-b-0\",container=\"notebook\"", "counter", 0, 0.5 * step)
  add("container_cpu_usage_seconds", "namespace=\"team-a\",pod=\"train-a-0\",container=\"pytorch\"", "counter", 0, 2 * step)
  add("container_cpu_usage_seconds", "namespace=\"team-b\",pod=\"train-b-0\",container=\"pytorch\"", "counter", 0, 4 * step)
  add("container_cpu_usage_seconds", "namespace=\"team-a\",pod=\"iris-pipeline-a1b2c-step-3\",container=\"main\"", "counter", 0, 0.5 * step)
  add("container_cpu_usage_seconds", "namespace=\"team-b\",pod=\"iris-pipeline-x9y8z-step-3\",container=\"main\"", "counter", 0, 1 * step)
  add("container_memory_working_set_bytes", "namespace=\"team-a\",pod=\"notebook-a-0\",container=\"notebook\"", "gauge", 536870912, 0)
  add("container_memory_working_set_bytes", "namespace=\"team-b\",pod=\"notebook-b-0\",container=\"notebook\"", "gauge", 1073741824, 0)
  add("container_memory_working_set_bytes", "namespace=\"team-b\",pod=\"train-b-0\",container=\"pytorch\"", "gauge", 17179869184, 0)
  add("container_memory_working_set_bytes", "namespace=\"team-b\",pod=\"iris-pipeline-x9y8z-step-3\",container=\"main\"", "gauge", 536870912, 0)
  add("DCGM_FI_DEV_GPU_UTIL", "namespace=\"nvidia-gpu-operator\",exported_namespace=\"team-a\",exported_pod=\"train-a-0\",gpu=\"0\"", "gauge", 40, 0)
  add("DCGM_FI_DEV_GPU_UTIL", "namespace=\"nvidia-gpu-operator\",exported_namespace=\"team-b\",exported_pod=\"train-b-0\",gpu=\"0\"", "gauge", 80, 0)
  add("DCGM_FI_DEV_GPU_UTIL", "namespace=\"nvidia-gpu-operator\",exported_namespace=\"team-b\",exported_pod=\"notebook-b-0\",gpu=\"1\"", "gauge", 60, 0)
  add("DCGM_FI_DEV_FB_USED", "namespace=\"nvidia-gpu-operator\",exported_namespace=\"team-a\",exported_pod=\"train-a-0\",gpu=\"0\"", "gauge", 20480, 0)
  add("DCGM_FI_DEV_FB_USED", "namespace=\"nvidia-gpu-operator\",exported_namespace=\"team-b\",exported_pod=\"train-b-0\",gpu=\"0\"", "gauge", 40960, 0)
  add("DCGM_FI_DEV_FB_USED", "namespace=\"nvidia-gpu-operator\",exported_namespace=\"team-a\",exported_pod=\"notebook-a-0\",gpu=\"1\"", "gauge", 4096, 0)
  add("DCGM_FI_DEV_FB_USED", "namespace=\"nvidia-gpu-operator\",exported_namespace=\"team-b\",exported_pod=\"notebook-b-0\",gpu=\"1\"", "gauge", 8192, 0)
  add("DCGM_FI_DEV_POWER_USAGE", "namespace=\"nvidia-gpu-operator\",exported_namespace=\"team-a\",exported_pod=\"train-a-0\",gpu=\"0\"", "gauge", 250, 0)
  add("DCGM_FI_DEV_POWER_USAGE", "namespace=\"nvidia-gpu-operator\",exported_namespace=\"team-b\",exported_pod=\"train-b-0\",gpu=\"0\"", "gauge", 300, 0)
  add("up", "job=\"workload\",namespace=\"team-a\",instance=\"m1-predictor:8080\"", "gauge", 1, 0)
  add("up", "job=\"workload\",namespace=\"team-b\",instance=\"m2-predictor:8080\"", "gauge", 1, 0)
  add("kube_pod_status_phase", "namespace=\"team-a\",pod=\"train-a-0\",phase=\"Running\"", "constant", 1, 0)
  add("kube_pod_status_phase", "namespace=\"team-a\",pod=\"train-a-0\",phase=\"Failed\"", "constant", 0, 0)
  add("kube_pod_status_phase", "namespace=\"team-b\",pod=\"train-b-0\",phase=\"Running\"", "constant", 1, 0)
  add("kube_pod_status_phase", "namespace=\"team-b\",pod=\"train-b-0\",phase=\"Failed\"", "constant", 0, 0)
  add("kube_pod_container_resource_requests", "namespace=\"team-a\",pod=\"notebook-a-0\",container=\"notebook\",resource=\"cpu\",unit=\"core\"", "constant", 0.5, 0)
  add("kube_pod_container_resource_requests", "namespace=\"team-a\",pod=\"notebook-a-0\",container=\"notebook\",resource=\"memory\",unit=\"byte\"", "constant", 1073741824, 0)
  add("kube_pod_container_resource_requests", "namespace=\"team-b\",pod=\"notebook-b-0\",container=\"notebook\",resource=\"cpu\",unit=\"core\"", "constant", 1, 0)
  add("kube_pod_container_resource_requests", "namespace=\"team-b\",pod=\"notebook-b-0\",container=\"notebook\",resource=\"memory\",unit=\"byte\"", "constant", 2147483648, 0)
  add("kube_pod_container_resource_limits", "namespace=\"team-a\",pod=\"notebook-a-0\",container=\"notebook\",resource=\"cpu\",unit=\"core\"", "constant", 2, 0)
  add("kube_pod_container_resource_limits", "namespace=\"team-a\",pod=\"notebook-a-0\",container=\"notebook\",resource=\"memory\",unit=\"byte\"", "constant", 2147483648, 0)
  add("kube_pod_container_resource_limits", "namespace=\"team-b\",pod=\"notebook-b-0\",container=\"notebook\",resource=\"cpu\",unit=\"core\"", "constant", 4, 0)
  add("kube_pod_container_resource_limits", "namespace=\"team-b\",pod=\"notebook-b-0\",container=\"notebook\",resource=\"memory\",unit=\"byte\"", "constant", 4294967296, 0)
  add("kube_pod_start_time", "namespace=\"team-a\",pod=\"iris-pipeline-a1b2c-step-1\",uid=\"a1\"", "constant", now - 3000, 0)
  add("kube_pod_start_time", "namespace=\"team-a\",pod=\"iris-pipeline-a1b2c-step-2\",uid=\"a2\"", "constant", now - 2400, 0)
  add("kube_pod_start_time", "namespace=\"team-b\",pod=\"iris-pipeline-x9y8z-step-1\",uid=\"b1\"", "constant", now - 3000, 0)
  add("kube_pod_start_time", "namespace=\"team-b\",pod=\"iris-pipeline-x9y8z-step-2\",uid=\"b2\"", "constant", now - 2100, 0)
  add("kube_pod_completion_time", "namespace=\"team-a\",pod=\"iris-pipeline-a1b2c-step-1\",uid=\"a1\"", "constant", now - 2400, 0)
  add("kube_pod_completion_time", "namespace=\"team-a\",pod=\"iris-pipeline-a1b2c-step-2\",uid=\"a2\"", "constant", now - 2280, 0)
  add("kube_pod_completion_time", "namespace=\"team-b\",pod=\"iris-pipeline-x9y8z-step-1\",uid=\"b1\"", "constant", now - 2100, 0)
  add("kube_pod_completion_time", "namespace=\"team-b\",pod=\"iris-pipeline-x9y8z-step-2\",uid=\"b2\"", "constant", now - 1800, 0)
  add("training_loss", "namespace=\"team-a\",pod=\"train-a-0\"", "gauge", 0.35, 0)
  add("training_loss", "namespace=\"team-b\",pod=\"train-b-0\"", "gauge", 0.9, 0)
  add("training_accuracy", "namespace=\"team-a\",pod=\"train-a-0\"", "gauge", 0.91, 0)
  add("training_accuracy", "namespace=\"team-b\",pod=\"train-b-0\"", "gauge", 0.55, 0)
  add("training_samples", "namespace=\"team-a\",pod=\"train-a-0\"", "counter", 0, 128 * step)
  add("training_samples", "namespace=\"team-b\",pod=\"train-b-0\"", "counter", 0, 64 * step)
  add("notebook_running", "namespace=\"team-a\"", "constant", 2, 0)
  add("notebook_running", "namespace=\"team-b\"", "constant", 1, 0)
  add("notebook_culling", "namespace=\"team-a\",name=\"notebook-a\"", "counter", 0, step / 3600)
  add("notebook_culling", "namespace=\"team-b\",name=\"notebook-b\"", "counter", 0, 2 * step / 3600)
  add("last_notebook_culling_timestamp_seconds", "namespace=\"team-a\",name=\"notebook-a\"", "constant", now - 1800, 0)
  add("last_notebook_culling_timestamp_seconds", "namespace=\"team-b\",name=\"notebook-b\"", "constant", now - 600, 0)
  add("argo_workflows_gauge", "namespace=\"team-a\",phase=\"Running\"", "constant", 2, 0)
  add("argo_workflows_gauge", "namespace=\"team-a\",phase=\"Succeeded\"", "constant", 5, 0)
  add("argo_workflows_gauge", "namespace=\"team-a\",phase=\"Failed\"", "constant", 1, 0)
  add("argo_workflows_gauge", "namespace=\"team-b\",phase=\"Running\"", "constant", 4, 0)
  add("argo_workflows_gauge", "namespace=\"team-b\",phase=\"Succeeded\"", "constant", 9, 0)
  add("argo_workflows_gauge", "namespace=\"team-b\",phase=\"Failed\"", "constant", 3, 0)
  add("argo_workflows_pods_gauge", "namespace=\"team-a\",phase=\"Running\"", "constant", 3, 0)
  add("argo_workflows_pods_gauge", "namespace=\"team-a\",phase=\"Pending\"", "constant", 1, 0)
  add("argo_workflows_pods_gauge", "namespace=\"team-b\",phase=\"Running\"", "constant", 6, 0)
  add("argo_workflows_pods_gauge", "namespace=\"team-b\",phase=\"Pending\"", "constant", 2, 0)
  add("argo_workflows_error_count", "namespace=\"team-a\",cause=\"OperationPanic\"", "cumulative", 0, step / 600)
  add("argo_workflows_error_count", "namespace=\"team-b\",cause=\"OperationPanic\"", "cumulative", 0, step / 300)
  hist("argo_workflows_operation_duration_seconds_bucket", "namespace=\"team-a\"", "0.1 0.5 1 5 +Inf", "0.3 0.7 0.9 0.99 1", 0.2)
  hist("argo_workflows_operation_duration_seconds_bucket", "namespace=\"team-b\"", "0.1 0.5 1 5 +Inf", "0.2 0.6 0.85 0.98 1", 0.4)

  for (i = 0; i < n; i++) {
    family = name[i]
    if (family != previous) {
      type = kind[i]
      if (type == "cumulative") type = "unknown"
      if (type == "constant") type = "gauge"
      printf "# TYPE %s %s\n", family, type
      previous = family
    }
    sample = family
    if (kind[i] == "counter") sample = family "_total"
    for (k = samples; k >= 0; k--) {
      # k counts steps back from now, so the last sample (k = 0) has a fixed value.
      ts = now - k * step
      if (kind[i] == "counter" || kind[i] == "cumulative") {
        v = (samples - k) * inc[i]
      } else if (family == "up" || kind[i] == "constant") {
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
}
# hist adds the cumulative buckets of a histogram observing rate_ events per second, the
# share fracs_[j] of them at most les_[j].
function hist(n_, l_, les_, fracs_, rate_,    le, fr, m, j) {
  m = split(les_, le, " ")
  split(fracs_, fr, " ")
  for (j = 1; j <= m; j++) add(n_, l_ ",le=\"" le[j] "\"", "cumulative", 0, rate_ * fr[j] * step)
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
