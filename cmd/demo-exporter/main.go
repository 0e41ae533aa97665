// Command demo-exporter serves simulated OpenShift AI workload metrics, so that a
// developer's `make run` shows every panel of every workload template with moving data
// without a cluster. It simulates, in namespaces team-a and team-b, a vLLM model server
// (team-b's under the `kserve_vllm:` prefix RHOAI scrapes may carry), a distributed
// training job with GPUs (DCGM metrics in the GPU operator's namespace, the workload's
// namespace in exported_namespace), a notebook server and a data science pipeline (Argo
// workflow metrics), with the pod and container metrics kubelet and kube-state-metrics
// would give. Metric names follow ../shared/FIELD-NOTES.md; it is demo data, not a
// model of any real workload's behaviour.
//
//	demo-exporter --listen 127.0.0.1:9101
package main

import (
	"flag"
	"log"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// workload is one simulated workload of a namespace.
type workload struct {
	namespace string
	name      string
	pods      []string
	load      float64 // relative load: team-b's are busier
}

type sim struct {
	reg *prometheus.Registry
	mu  sync.Mutex
	t   float64 // seconds since start, for the waves

	serving  []workload
	prefix   map[string]string // namespace → vLLM metric prefix
	training []workload
	notebook []workload
	pipeline []workload

	// vLLM
	latency, ttft, itl, queueTime map[string]*prometheus.HistogramVec
	running, waiting, kvCache     map[string]*prometheus.GaugeVec
	promptTok, genTok, success    map[string]*prometheus.CounterVec
	// KServe model server
	predict *prometheus.HistogramVec
	// pods and containers
	cpu          *prometheus.CounterVec
	memory       *prometheus.GaugeVec
	requests     *prometheus.GaugeVec
	limits       *prometheus.GaugeVec
	phase        *prometheus.GaugeVec
	podLabels    *prometheus.GaugeVec
	restarts     *prometheus.CounterVec
	gpuUtil      *prometheus.GaugeVec
	gpuFBUsed    *prometheus.GaugeVec
	gpuFBFree    *prometheus.GaugeVec
	gpuPower     *prometheus.GaugeVec
	gpuTemp      *prometheus.GaugeVec
	gpuActive    *prometheus.GaugeVec
	loss         *prometheus.GaugeVec
	accuracy     *prometheus.GaugeVec
	samples      *prometheus.CounterVec
	nbRunning    *prometheus.GaugeVec
	nbCulled     *prometheus.CounterVec
	nbLastCulled *prometheus.GaugeVec
	podStart     *prometheus.GaugeVec
	podDone      *prometheus.GaugeVec
	wfGauge      *prometheus.GaugeVec
	wfPods       *prometheus.GaugeVec
	wfErrors     *prometheus.CounterVec
	wfOpDuration *prometheus.HistogramVec
	start        time.Time
}

const gpuOperatorNamespace = "nvidia-gpu-operator"

func newSim() *sim {
	s := &sim{reg: prometheus.NewRegistry(), prefix: map[string]string{"team-a": "vllm:", "team-b": "kserve_vllm:"}}
	s.serving = []workload{
		{namespace: "team-a", name: "llama-3-8b", pods: []string{"llama-3-8b-predictor-7d9f-abcde", "llama-3-8b-predictor-7d9f-fghij"}, load: 1},
		{namespace: "team-b", name: "granite-7b", pods: []string{"granite-7b-predictor-5c4b-klmno"}, load: 1.8},
	}
	s.training = []workload{
		{namespace: "team-a", name: "bert-finetune", pods: []string{"bert-finetune-master-0", "bert-finetune-worker-0"}, load: 1},
		{namespace: "team-b", name: "resnet-train", pods: []string{"resnet-train-master-0"}, load: 1.5},
	}
	s.notebook = []workload{
		{namespace: "team-a", name: "alice-workbench", pods: []string{"alice-workbench-0"}, load: 1},
		{namespace: "team-b", name: "bob-workbench", pods: []string{"bob-workbench-0"}, load: 1.3},
	}
	s.pipeline = []workload{
		{namespace: "team-a", name: "train-pipeline", pods: []string{"train-pipeline-run-1-system-dag-driver-1", "train-pipeline-run-1-train-2"}, load: 1},
		{namespace: "team-b", name: "etl-pipeline", pods: []string{"etl-pipeline-run-7-extract-1"}, load: 1.4},
	}
	latencyBuckets := []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40}
	tokenBuckets := []float64{0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1}
	s.latency, s.ttft, s.itl, s.queueTime = map[string]*prometheus.HistogramVec{}, map[string]*prometheus.HistogramVec{}, map[string]*prometheus.HistogramVec{}, map[string]*prometheus.HistogramVec{}
	s.running, s.waiting, s.kvCache = map[string]*prometheus.GaugeVec{}, map[string]*prometheus.GaugeVec{}, map[string]*prometheus.GaugeVec{}
	s.promptTok, s.genTok, s.success = map[string]*prometheus.CounterVec{}, map[string]*prometheus.CounterVec{}, map[string]*prometheus.CounterVec{}
	vl := []string{"namespace", "pod", "model_name"}
	for _, p := range []string{"vllm:", "kserve_vllm:"} {
		s.latency[p] = s.histogram(p+"e2e_request_latency_seconds", "Request latency, end to end.", latencyBuckets, vl...)
		s.ttft[p] = s.histogram(p+"time_to_first_token_seconds", "Time to first token.", tokenBuckets, vl...)
		s.itl[p] = s.histogram(p+"inter_token_latency_seconds", "Inter-token latency.", tokenBuckets, vl...)
		s.queueTime[p] = s.histogram(p+"request_queue_time_seconds", "Time requests spent waiting.", latencyBuckets, vl...)
		s.running[p] = s.gauge(p+"num_requests_running", "Requests running.", vl...)
		s.waiting[p] = s.gauge(p+"num_requests_waiting", "Requests waiting.", vl...)
		s.kvCache[p] = s.gauge(p+"kv_cache_usage_perc", "KV-cache usage, 0 to 1.", vl...)
		s.promptTok[p] = s.counter(p+"prompt_tokens_total", "Prompt tokens processed.", vl...)
		s.genTok[p] = s.counter(p+"generation_tokens_total", "Tokens generated.", vl...)
		s.success[p] = s.counter(p+"request_success_total", "Requests finished.", append(vl, "finished_reason")...)
	}
	s.predict = s.histogram("request_predict_seconds", "KServe model server predict latency.", latencyBuckets, "namespace", "pod", "model_name")
	pod := []string{"namespace", "pod", "container"}
	s.cpu = s.counter("container_cpu_usage_seconds_total", "CPU used (kubelet cAdvisor).", pod...)
	s.memory = s.gauge("container_memory_working_set_bytes", "Working set (kubelet cAdvisor).", pod...)
	s.requests = s.gauge("kube_pod_container_resource_requests", "Requests (kube-state-metrics).", append(pod, "resource", "unit")...)
	s.limits = s.gauge("kube_pod_container_resource_limits", "Limits (kube-state-metrics).", append(pod, "resource", "unit")...)
	s.phase = s.gauge("kube_pod_status_phase", "Pod phase (kube-state-metrics).", "namespace", "pod", "phase")
	s.podLabels = s.gauge("kube_pod_labels", "Pod labels (kube-state-metrics).", "namespace", "pod",
		"label_serving_kserve_io_inferenceservice", "label_training_kubeflow_org_job_name", "label_training_kubeflow_org_replica_type",
		"label_notebook_name", "label_workflows_argoproj_io_workflow")
	s.restarts = s.counter("kube_pod_container_status_restarts_total", "Container restarts (kube-state-metrics).", pod...)
	dcgm := []string{"namespace", "pod", "exported_namespace", "exported_pod", "exported_container", "gpu", "UUID", "modelName", "Hostname"}
	s.gpuUtil = s.gauge("DCGM_FI_DEV_GPU_UTIL", "GPU utilisation, percent (DCGM).", dcgm...)
	s.gpuFBUsed = s.gauge("DCGM_FI_DEV_FB_USED", "Framebuffer used, MiB (DCGM).", dcgm...)
	s.gpuFBFree = s.gauge("DCGM_FI_DEV_FB_FREE", "Framebuffer free, MiB (DCGM).", dcgm...)
	s.gpuPower = s.gauge("DCGM_FI_DEV_POWER_USAGE", "Power, W (DCGM).", dcgm...)
	s.gpuTemp = s.gauge("DCGM_FI_DEV_GPU_TEMP", "Temperature, °C (DCGM).", dcgm...)
	s.gpuActive = s.gauge("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "Graphics engine active ratio (DCGM).", dcgm...)
	job := []string{"namespace", "pod", "job_name"}
	s.loss = s.gauge("training_loss", "Loss the job reports (a user metric).", job...)
	s.accuracy = s.gauge("training_accuracy", "Accuracy the job reports (a user metric).", job...)
	s.samples = s.counter("training_samples_total", "Samples processed (a user metric).", job...)
	s.nbRunning = s.gauge("notebook_running", "Notebooks running (notebook controller).", "namespace", "name")
	s.nbCulled = s.counter("notebook_culling_total", "Notebooks culled for inactivity (notebook controller).", "namespace", "name")
	s.nbLastCulled = s.gauge("last_notebook_culling_timestamp_seconds", "When the notebook was last culled (notebook controller).", "namespace", "name")
	s.podStart = s.gauge("kube_pod_start_time", "Pod start time (kube-state-metrics).", "namespace", "pod")
	s.podDone = s.gauge("kube_pod_completion_time", "Pod completion time (kube-state-metrics).", "namespace", "pod")
	s.wfGauge = s.gauge("argo_workflows_gauge", "Workflows by phase (Argo ≥ 3.6).", "namespace", "phase")
	s.wfPods = s.gauge("argo_workflows_pods_gauge", "Workflow pods by phase (Argo ≥ 3.6).", "namespace", "phase")
	s.wfErrors = s.counter("argo_workflows_error_count", "Workflow controller errors (Argo).", "namespace", "cause")
	s.wfOpDuration = s.histogram("argo_workflows_operation_duration_seconds", "Workflow operation durations (Argo).", []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10}, "namespace")
	s.start = time.Now()
	return s
}

func (s *sim) histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	s.reg.MustRegister(h)
	return h
}

func (s *sim) gauge(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	s.reg.MustRegister(g)
	return g
}

func (s *sim) counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	s.reg.MustRegister(c)
	return c
}

// wave is a slow oscillation in [0, 1], out of phase per seed.
func (s *sim) wave(period, seed float64) float64 {
	return 0.5 + 0.5*math.Sin(2*math.Pi*s.t/period+seed)
}

// step advances the simulation by dt seconds.
func (s *sim) step(dt float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t += dt
	for i, w := range s.serving {
		p := s.prefix[w.namespace]
		rate := w.load * (4 + 6*s.wave(600, float64(i))) // requests per second per pod
		for j, pod := range w.pods {
			l := []string{w.namespace, pod, w.name}
			n := int(rate * dt)
			for k := 0; k < n; k++ {
				tokens := 50 + rand.Float64()*250
				itl := (0.015 + 0.02*rand.Float64()) * w.load
				ttft := (0.05 + 0.2*rand.Float64()) * w.load
				s.ttft[p].WithLabelValues(l...).Observe(ttft)
				s.itl[p].WithLabelValues(l...).Observe(itl)
				s.latency[p].WithLabelValues(l...).Observe(ttft + tokens*itl)
				s.queueTime[p].WithLabelValues(l...).Observe(0.01 * rand.Float64() * w.load)
				s.predict.WithLabelValues(l...).Observe(ttft + tokens*itl)
				s.promptTok[p].WithLabelValues(l...).Add(100 + rand.Float64()*400)
				s.genTok[p].WithLabelValues(l...).Add(tokens)
				reason := "stop"
				if rand.Float64() < 0.15 {
					reason = "length"
				}
				if rand.Float64() < 0.02*w.load {
					reason = "abort"
				}
				s.success[p].WithLabelValues(append(l, reason)...).Inc()
			}
			s.running[p].WithLabelValues(l...).Set(math.Round(rate * 0.8))
			s.waiting[p].WithLabelValues(l...).Set(math.Round(rate * 0.3 * s.wave(120, float64(j))))
			s.kvCache[p].WithLabelValues(l...).Set(0.2 + 0.6*s.wave(300, float64(i+j)))
			s.pod(pod, w.namespace, "kserve-container", 2+2*w.load*s.wave(200, 1), 8<<30, 4, 16<<30)
			s.podLabels.WithLabelValues(w.namespace, pod, w.name, "", "", "", "").Set(1)
			s.gpu(w.namespace, pod, j, 60+30*s.wave(180, float64(j)))
		}
	}
	for i, w := range s.training {
		for j, pod := range w.pods {
			replica := "Worker"
			if strings.Contains(pod, "master") {
				replica = "Master"
			}
			s.pod(pod, w.namespace, "pytorch", 6*w.load*s.wave(90, float64(j)), 24<<30, 8, 32<<30)
			s.podLabels.WithLabelValues(w.namespace, pod, "", w.name, replica, "", "").Set(1)
			s.gpu(w.namespace, pod, j, 70+25*s.wave(60, float64(i+j)))
			l := []string{w.namespace, pod, w.name}
			progress := s.t / 3600
			s.loss.WithLabelValues(l...).Set(2.5*math.Exp(-progress*3) + 0.05*rand.Float64() + 0.1)
			s.accuracy.WithLabelValues(l...).Set(math.Min(0.97, 0.5+0.45*(1-math.Exp(-progress*3))+0.01*rand.Float64()))
			s.samples.WithLabelValues(l...).Add(dt * 120 / w.load)
		}
	}
	for i, w := range s.notebook {
		for _, pod := range w.pods {
			s.pod(pod, w.namespace, "notebook", 0.2+1.5*s.wave(240, float64(i)), 2<<30, 2, 4<<30)
			s.podLabels.WithLabelValues(w.namespace, pod, "", "", "", w.name, "").Set(1)
		}
		s.nbRunning.WithLabelValues(w.namespace, w.name).Set(1)
		if s.t <= dt {
			// culled (stopped for idleness) a few times, last a few hours before the demo started
			s.nbLastCulled.WithLabelValues(w.namespace, w.name).Set(float64(s.start.Add(-time.Duration(3+i) * time.Hour).Unix()))
			s.nbCulled.WithLabelValues(w.namespace, w.name).Add(float64(2 + i))
		}
		for j, pod := range w.pods {
			s.gpu(w.namespace, pod, 2+j, 10+40*s.wave(240, float64(i)))
		}
	}
	for i, w := range s.pipeline {
		for _, pod := range w.pods {
			s.pod(pod, w.namespace, "main", 0.5+s.wave(100, float64(i)), 1<<30, 1, 2<<30)
			s.podLabels.WithLabelValues(w.namespace, pod, "", "", "", "", w.name).Set(1)
		}
		succeeded := math.Floor(s.t/60) + 3
		s.wfGauge.WithLabelValues(w.namespace, "Running").Set(math.Round(1 + s.wave(300, float64(i))))
		s.wfGauge.WithLabelValues(w.namespace, "Succeeded").Set(succeeded)
		s.wfGauge.WithLabelValues(w.namespace, "Failed").Set(math.Floor(succeeded / 10 * w.load))
		s.wfGauge.WithLabelValues(w.namespace, "Pending").Set(math.Round(s.wave(200, float64(i))))
		s.wfPods.WithLabelValues(w.namespace, "Running").Set(float64(len(w.pods)))
		s.wfPods.WithLabelValues(w.namespace, "Pending").Set(math.Round(s.wave(150, 2)))
		s.wfErrors.WithLabelValues(w.namespace, "OperationPanic").Add(0)
		if rand.Float64() < 0.01*dt*w.load {
			s.wfErrors.WithLabelValues(w.namespace, "CronWorkflowSubmissionError").Inc()
		}
		s.wfOpDuration.WithLabelValues(w.namespace).Observe(0.2 + rand.Float64()*w.load)
		// the finished step pods of the last run: their start and completion times
		for k, step := range []string{"ingest", "train", "evaluate"} {
			pod := w.name + "-run-1-" + step + "-" + string(rune('1'+k))
			started := s.start.Add(time.Duration(k*300) * time.Second)
			took := time.Duration(float64(60+90*k)*w.load) * time.Second
			s.podStart.WithLabelValues(w.namespace, pod).Set(float64(started.Unix()))
			s.podDone.WithLabelValues(w.namespace, pod).Set(float64(started.Add(took).Unix()))
		}
	}
}

// pod updates a pod's container metrics: cores in use, memory, and requests/limits.
func (s *sim) pod(pod, ns, container string, cores, memBytes, cpuLimit, memLimit float64) {
	l := []string{ns, pod, container}
	s.cpu.WithLabelValues(l...).Add(cores * 5)
	s.memory.WithLabelValues(l...).Set(memBytes * (0.6 + 0.3*s.wave(300, cores)))
	s.requests.WithLabelValues(append(l, "cpu", "core")...).Set(cpuLimit / 2)
	s.requests.WithLabelValues(append(l, "memory", "byte")...).Set(memLimit / 2)
	s.limits.WithLabelValues(append(l, "cpu", "core")...).Set(cpuLimit)
	s.limits.WithLabelValues(append(l, "memory", "byte")...).Set(memLimit)
	for _, phase := range []string{"Pending", "Running", "Succeeded", "Failed", "Unknown"} {
		v := 0.0
		if phase == "Running" {
			v = 1
		}
		s.phase.WithLabelValues(ns, pod, phase).Set(v)
	}
	s.restarts.WithLabelValues(l...).Add(0)
}

// gpu updates the DCGM metrics of the GPU a pod uses: scraped from the exporter in the
// GPU operator's namespace, the workload's namespace in exported_namespace.
func (s *sim) gpu(ns, pod string, index int, util float64) {
	l := []string{gpuOperatorNamespace, "nvidia-dcgm-exporter-x7k2p", ns, pod, "main", string(rune('0' + index)), "GPU-" + ns + "-" + pod, "NVIDIA A100-SXM4-80GB", "worker-1"}
	s.gpuUtil.WithLabelValues(l...).Set(util)
	s.gpuFBUsed.WithLabelValues(l...).Set(20000 + 400*util)
	s.gpuFBFree.WithLabelValues(l...).Set(81920 - 20000 - 400*util)
	s.gpuPower.WithLabelValues(l...).Set(90 + 3*util)
	s.gpuTemp.WithLabelValues(l...).Set(40 + util/3)
	s.gpuActive.WithLabelValues(l...).Set(util / 100)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9101", "address to serve /metrics on")
	flag.Parse()
	s := newSim()
	s.step(5)
	go func() {
		for range time.Tick(5 * time.Second) {
			s.step(5)
		}
	}()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	log.Printf("demo-exporter: simulated OpenShift AI workloads in team-a and team-b on http://%s/metrics", *listen)
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
