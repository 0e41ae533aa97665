// Package workloads lists the OpenShift AI workloads of a project (a namespace): model
// servers, training jobs, notebooks and pipelines, read from the cluster with the
// caller's own Kubernetes credentials, each with its status, the label selector of its
// pods and a few headline figures computed server-side through query tenancy.
package workloads

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Type is a kind of workload, as the templates name them.
type Type string

// The workload types, in the order answers list them.
const (
	ModelServing Type = "model_serving"
	Training     Type = "training"
	Notebook     Type = "notebook"
	Pipeline     Type = "pipeline"
)

// Types is every type, in answer order.
var Types = []Type{ModelServing, Training, Notebook, Pipeline}

// ParseType reads a type name.
func ParseType(s string) (Type, bool) {
	t := Type(s)
	return t, slices.Contains(Types, t)
}

// Resource is one Kubernetes resource listed as workloads of a type.
type Resource struct {
	Type Type
	Kind string
	GVR  schema.GroupVersionResource
	// describe reads status and pod selector; figures the headline figures to compute.
	describe func(*unstructured.Unstructured) (Status, string)
	figures  func(*unstructured.Unstructured) []FigureSpec
}

// CRD is the CustomResourceDefinition's name (<resource>.<group>).
func (r Resource) CRD() string { return r.GVR.Resource + "." + r.GVR.Group }

// APIVersion is <group>/<version>.
func (r Resource) APIVersion() string { return r.GVR.GroupVersion().String() }

// Resources are the resources listed, per type, in answer order (FIELD-NOTES.md).
var Resources = []Resource{
	{Type: ModelServing, Kind: "InferenceService", GVR: gvr("serving.kserve.io", "v1beta1", "inferenceservices"),
		describe: func(o *unstructured.Unstructured) (Status, string) {
			return readyStatus(o), selector("serving.kserve.io/inferenceservice", o.GetName())
		},
		figures: func(o *unstructured.Unstructured) []FigureSpec { return modelFigures(o.GetName()) }},
	{Type: ModelServing, Kind: "LLMInferenceService", GVR: gvr("serving.kserve.io", "v1alpha1", "llminferenceservices"),
		describe: func(o *unstructured.Unstructured) (Status, string) {
			return readyStatus(o), selector("app.kubernetes.io/name", o.GetName(), "app.kubernetes.io/part-of", "llminferenceservice")
		},
		figures: func(o *unstructured.Unstructured) []FigureSpec { return modelFigures(servedModelName(o)) }},
	{Type: Training, Kind: "PyTorchJob", GVR: gvr("kubeflow.org", "v1", "pytorchjobs"),
		describe: func(o *unstructured.Unstructured) (Status, string) {
			return jobStatus(o), selector("training.kubeflow.org/job-name", o.GetName())
		},
		figures: func(o *unstructured.Unstructured) []FigureSpec { return trainingFigures(podPrefix(o.GetName())) }},
	{Type: Training, Kind: "TrainJob", GVR: gvr("trainer.kubeflow.org", "v1alpha1", "trainjobs"),
		describe: func(o *unstructured.Unstructured) (Status, string) {
			// Kubeflow Trainer runs a TrainJob as a JobSet of the same name.
			return jobStatus(o), selector("jobset.sigs.k8s.io/jobset-name", o.GetName())
		},
		figures: func(o *unstructured.Unstructured) []FigureSpec { return trainingFigures(podPrefix(o.GetName())) }},
	{Type: Training, Kind: "RayJob", GVR: gvr("ray.io", "v1", "rayjobs"),
		describe: func(o *unstructured.Unstructured) (Status, string) {
			if c := rayCluster(o); c != "" {
				return rayJobStatus(o), selector("ray.io/cluster", c)
			}
			return rayJobStatus(o), selector("ray.io/originated-from-crd", "RayJob", "ray.io/originated-from-cr-name", o.GetName())
		},
		figures: func(o *unstructured.Unstructured) []FigureSpec {
			if c := rayCluster(o); c != "" {
				return trainingFigures(podPrefix(c))
			}
			return trainingFigures(podPrefix(o.GetName()))
		}},
	{Type: Notebook, Kind: "Notebook", GVR: gvr("kubeflow.org", "v1", "notebooks"),
		describe: func(o *unstructured.Unstructured) (Status, string) {
			return notebookStatus(o), selector("notebook-name", o.GetName())
		},
		// A notebook is a StatefulSet of the same name: its pod is <name>-<ordinal>.
		figures: func(o *unstructured.Unstructured) []FigureSpec {
			return podFigures(regexp.QuoteMeta(o.GetName()) + "-[0-9]+")
		}},
	{Type: Pipeline, Kind: "DataSciencePipelinesApplication", GVR: gvr("datasciencepipelinesapplications.opendatahub.io", "v1", "datasciencepipelinesapplications"),
		describe: func(o *unstructured.Unstructured) (Status, string) {
			return readyStatus(o), selector("dspa", o.GetName())
		},
		figures: func(*unstructured.Unstructured) []FigureSpec { return pipelineServerFigures() }},
	{Type: Pipeline, Kind: "Workflow", GVR: gvr("argoproj.io", "v1alpha1", "workflows"),
		describe: func(o *unstructured.Unstructured) (Status, string) {
			return phaseStatus(o), selector("workflows.argoproj.io/workflow", o.GetName())
		},
		figures: func(o *unstructured.Unstructured) []FigureSpec { return podFigures(podPrefix(o.GetName())) }},
}

// ResourcesOf returns the resources of the types given (all of them for none).
func ResourcesOf(types ...Type) []Resource {
	var out []Resource
	for _, r := range Resources {
		if len(types) == 0 || slices.Contains(types, r.Type) {
			out = append(out, r)
		}
	}
	return out
}

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

// Workload is one workload of an answer.
type Workload struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	APIVersion string `json:"api_version"`
	Type       Type   `json:"type"`
	Status     string `json:"status"`
	// Message is what the resource says about its status (a condition's reason and
	// message), when it says something.
	Message string `json:"message,omitempty"`
	// Created is metadata.creationTimestamp (RFC 3339).
	Created string `json:"created"`
	// PodSelector selects the workload's pods (a Kubernetes label selector).
	PodSelector string `json:"pod_selector"`
	// Metrics are the headline figures by name.
	Metrics map[string]Figure `json:"metrics"`
}

// Describe reads a workload from its object (figures not computed).
func (r Resource) Describe(o *unstructured.Unstructured) Workload {
	st, sel := r.describe(o)
	created := ""
	if ts := o.GetCreationTimestamp(); !ts.IsZero() {
		created = ts.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	return Workload{
		Name: o.GetName(), Kind: r.Kind, APIVersion: r.APIVersion(), Type: r.Type,
		Status: st.Phase, Message: st.Message, Created: created, PodSelector: sel,
		Metrics: map[string]Figure{},
	}
}

// FiguresOf are the figures to compute for o: none when its name cannot be put in a
// query (only DNS-1123 names are ever substituted).
func (r Resource) FiguresOf(o *unstructured.Unstructured) ([]FigureSpec, error) {
	if err := CheckName(o.GetName()); err != nil {
		return nil, err
	}
	return r.figures(o), nil
}

// CheckName accepts DNS-1123 subdomains (every Kubernetes object name): the only
// strings substituted into queries.
func CheckName(name string) error {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("name %q is not a DNS-1123 name (%s): not put in a query", name, strings.Join(errs, "; "))
	}
	return nil
}

// selector writes key=value pairs as a label selector, in the order given.
func selector(kv ...string) string {
	parts := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+"="+kv[i+1])
	}
	return strings.Join(parts, ",")
}

// podPrefix is the pod-name pattern of pods named after name: "<name>-…".
func podPrefix(name string) string { return regexp.QuoteMeta(name) + "-.*" }

// servedModelName is the model_name vLLM reports for an LLMInferenceService:
// spec.model.name when set (and a DNS-1123 name, the only strings put in queries),
// else the resource's name (KServe's default).
func servedModelName(o *unstructured.Unstructured) string {
	if n, _, _ := unstructured.NestedString(o.Object, "spec", "model", "name"); n != "" && CheckName(n) == nil {
		return n
	}
	return o.GetName()
}

// rayCluster is the RayCluster a RayJob runs on (status.rayClusterName), "" when unknown
// or not a DNS-1123 name.
func rayCluster(o *unstructured.Unstructured) string {
	if n, _, _ := unstructured.NestedString(o.Object, "status", "rayClusterName"); n != "" && CheckName(n) == nil {
		return n
	}
	return ""
}

// quote writes s as a PromQL string literal. Callers pass validated names or regular
// expressions built from them (ASCII only), for which Go's quoting is PromQL's.
func quote(s string) string { return strconv.Quote(s) }
