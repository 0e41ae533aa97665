package templates

import (
	"github.com/perses/spec/go/dashboard"
)

// A training job's pods are named after it: <job>-master-0, <job>-worker-1 (PyTorchJob,
// TFJob, MPIJob: the training operator), <job>-node-0-0-<suffix> (TrainJob, through a
// JobSet). The DCGM exporter reports the pod as exported_pod.
const (
	jobPods    = `pod=~"$job-.+"`
	jobGPUPods = `exported_pod=~"$job-.+"`
)

// Training watches a distributed training job: its replicas, the GPUs, CPU and memory
// they use, and the loss, accuracy and throughput the job reports itself.
func Training() *Template {
	return &Template{
		ID:          "training",
		Name:        "Training job",
		Description: "A distributed training job (PyTorchJob, TFJob, MPIJob or TrainJob): replicas by phase, GPU utilisation, memory and power per replica, CPU and memory, and the job's own loss, accuracy and throughput metrics.",
		Category:    CategoryTraining,
		Variables: []Variable{
			{
				Name: "job_name", Type: TypeKubernetesName, Required: true, Label: "Training job",
				Description: "Name of the job; its pods are named <job>-<replica type>-<index> (training.kubeflow.org/job-name) or <job>-node-… (TrainJob).",
			},
			{
				Name: "loss_metric", Type: TypeMetricName, Default: "training_loss", Label: "Loss metric",
				Description: "The gauge the job reports its loss in (scraped from its pods, so labelled with pod).",
			},
			{
				Name: "accuracy_metric", Type: TypeMetricName, Default: "training_accuracy", Label: "Accuracy metric",
				Description: "The gauge the job reports its accuracy in (0–1).",
			},
			{
				Name: "samples_metric", Type: TypeMetricName, Default: "training_samples_total", Label: "Samples metric",
				Description: "The counter of samples the job has processed; the throughput panel shows its rate.",
			},
		},
		Dashboard: newDashboard(
			"Training: "+placeholder("job_name"),
			"Training job replicas, GPUs, CPU and memory, and the job's own metrics, confined to this project's namespace.",
			[]dashboard.Variable{workloadVariable("job", "Training job", "The job whose pods (<job>-…) the panels show", CategoryTraining, placeholder("job_name"))},
			section{title: "Job", cells: []cell{
				wide("replicas_by_phase", timeSeries("Replicas by phase", "The job's pods in each phase (kube_pod_status_phase).", unitDecimal, true,
					q(`sum by (phase) (kube_pod_status_phase{`+jobPods+`} > 0)`, "{{phase}}"))),
				small("running_replicas", stat("Running replicas", "The job's pods in phase Running.", unitDecimal,
					q(`sum(kube_pod_status_phase{`+jobPods+`,phase="Running"})`, "running"))),
				small("failed_replicas", stat("Failed replicas", "The job's pods in phase Failed.", unitDecimal,
					q(`sum(kube_pod_status_phase{`+jobPods+`,phase="Failed"})`, "failed"))),
			}},
			section{title: "Progress (metrics the job reports)", cells: []cell{
				wide("loss", timeSeries("Loss", "The job's "+placeholder("loss_metric")+" per pod.", unitDecimal, false,
					q(placeholder("loss_metric")+`{`+jobPods+`}`, "{{pod}}"))),
				wide("accuracy", timeSeries("Accuracy", "The job's "+placeholder("accuracy_metric")+" per pod.", unitRatio, false,
					q(placeholder("accuracy_metric")+`{`+jobPods+`}`, "{{pod}}"))),
				wide("throughput", timeSeries("Throughput", "Samples processed per second: the rate of the job's "+placeholder("samples_metric")+", summed over its pods.", unitCounts, false,
					q(`sum(rate(`+placeholder("samples_metric")+`{`+jobPods+`}[5m]))`, "samples/s"))),
			}},
			section{title: "GPUs (DCGM)", cells: []cell{
				wide("gpu_utilization", timeSeries("GPU utilisation", "DCGM_FI_DEV_GPU_UTIL averaged over each replica's GPUs.", unitPercent, false,
					q(`avg by (exported_pod) (DCGM_FI_DEV_GPU_UTIL{`+jobGPUPods+`})`, "{{exported_pod}}"))),
				wide("gpu_memory", timeSeries("GPU memory used", "DCGM_FI_DEV_FB_USED (MiB) summed over each replica's GPUs.", unitBytes, false,
					q(`sum by (exported_pod) (DCGM_FI_DEV_FB_USED{`+jobGPUPods+`}) * 1048576`, "{{exported_pod}}"))),
				wide("gpu_power", timeSeries("GPU power", "DCGM_FI_DEV_POWER_USAGE (watts) summed over each replica's GPUs.", unitDecimal, false,
					q(`sum by (exported_pod) (DCGM_FI_DEV_POWER_USAGE{`+jobGPUPods+`})`, "{{exported_pod}}"))),
			}},
			section{title: "CPU and memory", cells: []cell{
				wide("cpu", timeSeries("CPU", "Cores used per replica (container_cpu_usage_seconds_total).", unitDecimal, false,
					q(`sum by (pod) (rate(container_cpu_usage_seconds_total{`+jobPods+`,container!=""}[5m]))`, "{{pod}}"))),
				wide("memory", timeSeries("Memory", "Working set per replica (container_memory_working_set_bytes).", unitBytes, false,
					q(`sum by (pod) (container_memory_working_set_bytes{`+jobPods+`,container!=""})`, "{{pod}}"))),
			}},
		),
	}
}
