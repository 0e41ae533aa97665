package templates

import (
	"github.com/perses/spec/go/dashboard"
)

// A pipeline run is an Argo Workflow named <pipeline>-<suffix>, and each of its steps a
// pod named <workflow>-<step>-<id>. The Argo workflow controller of a
// DataSciencePipelinesApplication runs in the project's namespace, so its metrics are
// the project's.
const pipelinePods = `pod=~"$pipeline-.+"`

// DataPipeline watches Data Science Pipelines (Argo Workflows ≥ 3.6): runs by phase,
// failures, durations, and the CPU and memory of one pipeline's step pods.
func DataPipeline() *Template {
	return &Template{
		ID:          "data-pipeline",
		Name:        "Data pipeline",
		Description: "Data Science Pipelines runs (Argo Workflows): runs and step pods by phase, failures, step and controller durations, and CPU and memory of one pipeline's step pods.",
		Category:    CategoryPipeline,
		Variables: []Variable{{
			Name: "pipeline_name", Type: TypeKubernetesName, Required: true, Label: "Pipeline",
			Description: "The pipeline whose runs' Workflows are named <pipeline>-<suffix>; the step panels show the pods <pipeline>-….",
		}},
		Dashboard: newDashboard(
			"Pipeline: "+placeholder("pipeline_name"),
			"Argo Workflows runs of this project's pipelines server, and one pipeline's steps, confined to this project's namespace.",
			[]dashboard.Variable{workloadVariable("pipeline", "Pipeline", "The pipeline whose step pods (<pipeline>-…) the step panels show", CategoryPipeline, placeholder("pipeline_name"))},
			section{title: "Runs", cells: []cell{
				wide("runs_by_phase", timeSeries("Runs by phase", "Workflows the project's pipelines server holds, by phase (argo_workflows_gauge).", unitDecimal, true,
					q(`sum by (phase) (argo_workflows_gauge)`, "{{phase}}"))),
				wide("pods_by_phase", timeSeries("Step pods by phase", "Workflow pods by phase (argo_workflows_pods_gauge).", unitDecimal, true,
					q(`sum by (phase) (argo_workflows_pods_gauge)`, "{{phase}}"))),
				wide("failures", timeSeries("Failures", "Runs in phase Failed or Error, and errors of the workflow controller per second by cause (argo_workflows_error_count).", unitDecimal, false,
					q(`sum(argo_workflows_gauge{phase=~"Failed|Error"})`, "failed runs"),
					q(`sum by (cause) (rate(argo_workflows_error_count[5m]))`, "controller errors: {{cause}}"))),
				wide("operation_duration", timeSeries("Workflow operation duration", "p50 and p95 of the controller's workflow operations (argo_workflows_operation_duration_seconds): how long each reconciliation of a run takes.", unitSeconds, false,
					q(`histogram_quantile(0.5, sum by (le) (rate(argo_workflows_operation_duration_seconds_bucket[5m])))`, "p50"),
					q(`histogram_quantile(0.95, sum by (le) (rate(argo_workflows_operation_duration_seconds_bucket[5m])))`, "p95"))),
			}},
			section{title: "Steps of the pipeline", cells: []cell{
				wide("step_durations", bars("Step durations", "Run time of each finished step pod of the pipeline (kube_pod_completion_time - kube_pod_start_time).", unitSeconds,
					q(`max by (pod) (kube_pod_completion_time{`+pipelinePods+`} - kube_pod_start_time{`+pipelinePods+`})`, "{{pod}}"))),
				wide("step_cpu", timeSeries("Step CPU", "Cores used per step pod (container_cpu_usage_seconds_total).", unitDecimal, false,
					q(`sum by (pod) (rate(container_cpu_usage_seconds_total{`+pipelinePods+`,container!=""}[5m]))`, "{{pod}}"))),
				wide("step_memory", timeSeries("Step memory", "Working set per step pod (container_memory_working_set_bytes).", unitBytes, false,
					q(`sum by (pod) (container_memory_working_set_bytes{`+pipelinePods+`,container!=""})`, "{{pod}}"))),
			}},
		),
	}
}
