package templates

import (
	"github.com/perses/spec/go/dashboard"
)

// A Notebook runs as the StatefulSet of its name: its pod is <notebook>-0.
const (
	notebookPods    = `pod=~"$notebook-[0-9]+"`
	notebookGPUPods = `exported_pod=~"$notebook-[0-9]+"`
	// active is the CPU use (cores) above which the notebook counts as busy.
	active = "0.01"
)

// resourceQueries are a notebook's use of a resource against its requests and limits.
func resourceQueries(usage, resource string) []query {
	return []query{
		q(usage, "used"),
		q(`sum(kube_pod_container_resource_requests{`+notebookPods+`,resource="`+resource+`"})`, "request"),
		q(`sum(kube_pod_container_resource_limits{`+notebookPods+`,resource="`+resource+`"})`, "limit"),
	}
}

// Notebook watches a workbench (Kubeflow Notebook): CPU and memory against requests
// and limits, GPU, activity and culling.
func Notebook() *Template {
	cpu := `sum(rate(container_cpu_usage_seconds_total{` + notebookPods + `,container!=""}[5m]))`
	return &Template{
		ID:          "notebook",
		Name:        "Notebook server",
		Description: "A workbench (Kubeflow Notebook): CPU and memory against requests and limits, GPU utilisation and memory, time since its last activity, and idle culling.",
		Category:    CategoryNotebook,
		Variables: []Variable{{
			Name: "notebook_name", Type: TypeKubernetesName, Required: true, Label: "Notebook",
			Description: "Name of the Notebook (notebook-name label); its pod is <notebook>-0.",
		}},
		Dashboard: newDashboard(
			"Notebook: "+placeholder("notebook_name"),
			"Workbench resources, GPU, activity and culling, confined to this project's namespace.",
			[]dashboard.Variable{workloadVariable("notebook", "Notebook", "The Notebook whose pod (<notebook>-0) the panels show", CategoryNotebook, placeholder("notebook_name"))},
			section{title: "Resources", cells: []cell{
				wide("cpu", timeSeries("CPU", "Cores used (container_cpu_usage_seconds_total) against the pod's requests and limits (kube_pod_container_resource_requests/limits).", unitDecimal, false,
					resourceQueries(cpu, "cpu")...)),
				wide("memory", timeSeries("Memory", "Working set (container_memory_working_set_bytes) against the pod's requests and limits.", unitBytes, false,
					resourceQueries(`sum(container_memory_working_set_bytes{`+notebookPods+`,container!=""})`, "memory")...)),
				wide("gpu_utilization", timeSeries("GPU utilisation", "DCGM_FI_DEV_GPU_UTIL of the notebook's GPUs.", unitPercent, false,
					q(`avg(DCGM_FI_DEV_GPU_UTIL{`+notebookGPUPods+`})`, "utilisation"))),
				wide("gpu_memory", timeSeries("GPU memory used", "DCGM_FI_DEV_FB_USED (MiB) of the notebook's GPUs.", unitBytes, false,
					q(`sum(DCGM_FI_DEV_FB_USED{`+notebookGPUPods+`}) * 1048576`, "used"))),
			}},
			section{title: "Activity and culling", cells: []cell{
				small("last_activity", stat("Time since last activity", "Seconds since the notebook last used more than "+active+" core (5-minute rate), looking back 6 hours: the kernel activity idle culling reacts to.", unitSeconds,
					q(`time() - max(max_over_time(timestamp(`+cpu+` > `+active+`)[6h:1m]))`, "idle for"))),
				small("last_culled", stat("Time since last culled", "Seconds since the notebook controller last stopped this notebook for idleness (last_notebook_culling_timestamp_seconds).", unitSeconds,
					q(`time() - max(last_notebook_culling_timestamp_seconds{name="$notebook"})`, "culled"))),
				small("cullings", stat("Cullings (24 h)", "Times the notebook controller stopped this notebook for idleness in the last day (notebook_culling_total).", unitDecimal,
					q(`sum(increase(notebook_culling_total{name="$notebook"}[24h]))`, "cullings"))),
				small("running_notebooks", stat("Running notebooks", "Notebooks running in this project (notebook_running).", unitDecimal,
					q(`sum(notebook_running)`, "running"))),
			}},
		),
	}
}
