package workloads

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Status is what an answer says of a workload's state.
type Status struct {
	Phase   string
	Message string
}

// Phases written when the resource does not say.
const (
	StatusUnknown  = "Unknown"
	StatusReady    = "Ready"
	StatusNotReady = "NotReady"
	StatusPending  = "Pending"
	StatusRunning  = "Running"
	StatusStopped  = "Stopped"
)

// condition is one entry of .status.conditions.
type condition struct {
	Type, Status, Reason, Message string
}

func conditions(o *unstructured.Unstructured) []condition {
	raw, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	out := make([]condition, 0, len(raw))
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		str := func(k string) string { s, _ := m[k].(string); return s }
		out = append(out, condition{Type: str("type"), Status: str("status"), Reason: str("reason"), Message: str("message")})
	}
	return out
}

func (c condition) message() string {
	switch {
	case c.Reason != "" && c.Message != "":
		return c.Reason + ": " + c.Message
	case c.Message != "":
		return c.Message
	}
	return c.Reason
}

// readyStatus reads the Ready condition (InferenceService, LLMInferenceService,
// DataSciencePipelinesApplication): Ready, NotReady (with its reason), or Unknown.
func readyStatus(o *unstructured.Unstructured) Status {
	for _, c := range conditions(o) {
		if c.Type != "Ready" {
			continue
		}
		switch c.Status {
		case "True":
			return Status{Phase: StatusReady}
		case "False":
			return Status{Phase: StatusNotReady, Message: c.message()}
		}
		return Status{Phase: StatusUnknown, Message: c.message()}
	}
	return Status{Phase: StatusUnknown}
}

// jobStatus is the type of the last condition that holds (Kubeflow's jobs append
// Created, Running, Restarting, Succeeded, Failed; TrainJob's Suspended, Complete,
// Failed), else the last condition's type, else Pending.
func jobStatus(o *unstructured.Unstructured) Status {
	cs := conditions(o)
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].Status == "True" && cs[i].Type != "" {
			return Status{Phase: cs[i].Type, Message: cs[i].message()}
		}
	}
	if n := len(cs); n > 0 && cs[n-1].Type != "" {
		return Status{Phase: cs[n-1].Type, Message: cs[n-1].message()}
	}
	return Status{Phase: StatusPending}
}

// rayJobStatus is .status.jobDeploymentStatus (Initializing, Running, Complete, Failed,
// Suspended…), else .status.jobStatus (PENDING, RUNNING, SUCCEEDED…), else Pending.
func rayJobStatus(o *unstructured.Unstructured) Status {
	msg, _, _ := unstructured.NestedString(o.Object, "status", "message")
	if s, _, _ := unstructured.NestedString(o.Object, "status", "jobDeploymentStatus"); s != "" {
		return Status{Phase: s, Message: msg}
	}
	if s, _, _ := unstructured.NestedString(o.Object, "status", "jobStatus"); s != "" {
		return Status{Phase: s, Message: msg}
	}
	return Status{Phase: StatusPending, Message: msg}
}

// notebookStatus: Stopped when the kubeflow-resource-stopped annotation is set (culled
// or stopped by the user), Running with a ready replica or a Ready condition that
// holds, else Pending (with the waiting container's reason when the status has one).
func notebookStatus(o *unstructured.Unstructured) Status {
	if _, stopped := o.GetAnnotations()["kubeflow-resource-stopped"]; stopped {
		return Status{Phase: StatusStopped}
	}
	if n, found, _ := unstructured.NestedInt64(o.Object, "status", "readyReplicas"); found && n > 0 {
		return Status{Phase: StatusRunning}
	}
	for _, c := range conditions(o) {
		if c.Type == "Ready" && c.Status == "True" {
			return Status{Phase: StatusRunning}
		}
	}
	if w, found, _ := unstructured.NestedMap(o.Object, "status", "containerState", "waiting"); found {
		reason, _ := w["reason"].(string)
		message, _ := w["message"].(string)
		return Status{Phase: StatusPending, Message: condition{Reason: reason, Message: message}.message()}
	}
	return Status{Phase: StatusPending}
}

// phaseStatus is .status.phase (Argo Workflow: Pending, Running, Succeeded, Failed,
// Error), else Pending.
func phaseStatus(o *unstructured.Unstructured) Status {
	msg, _, _ := unstructured.NestedString(o.Object, "status", "message")
	if p, _, _ := unstructured.NestedString(o.Object, "status", "phase"); p != "" {
		return Status{Phase: p, Message: msg}
	}
	return Status{Phase: StatusPending, Message: msg}
}
