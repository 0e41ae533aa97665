package workloads

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kjson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// object reads an object from YAML as the dynamic client decodes it.
func object(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(doc), &m))
	o := &unstructured.Unstructured{Object: m}
	if ts := o.GetCreationTimestamp(); ts.IsZero() {
		o.SetCreationTimestamp(metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	}
	// JSON numbers are int64 in unstructured objects, as the dynamic client gives them.
	data, err := json.Marshal(o.Object)
	require.NoError(t, err)
	o.Object = nil
	require.NoError(t, kjson.Unmarshal(data, &o.Object))
	return o
}

func resource(t *testing.T, kind string) Resource {
	t.Helper()
	for _, r := range Resources {
		if r.Kind == kind {
			return r
		}
	}
	t.Fatalf("no resource %s", kind)
	return Resource{}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name, kind, doc           string
		status, message, selector string
	}{
		{"isvc ready", "InferenceService", `
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: m1, namespace: team-a}
status:
  conditions:
    - {type: PredictorReady, status: "True"}
    - {type: Ready, status: "True"}
`, "Ready", "", "serving.kserve.io/inferenceservice=m1"},
		{"isvc not ready", "InferenceService", `
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: m2}
status:
  conditions:
    - {type: Ready, status: "False", reason: RevisionMissing, message: "Revision m2-predictor-00001 failed"}
`, "NotReady", "RevisionMissing: Revision m2-predictor-00001 failed", "serving.kserve.io/inferenceservice=m2"},
		{"isvc without status", "InferenceService", `
metadata: {name: m3}
`, "Unknown", "", "serving.kserve.io/inferenceservice=m3"},
		{"isvc ready unknown", "InferenceService", `
metadata: {name: m4}
status: {conditions: [{type: Ready, status: Unknown, reason: Deploying}]}
`, "Unknown", "Deploying", "serving.kserve.io/inferenceservice=m4"},
		{"llmisvc", "LLMInferenceService", `
metadata: {name: llama}
status: {conditions: [{type: Ready, status: "True"}]}
`, "Ready", "", "app.kubernetes.io/name=llama,app.kubernetes.io/part-of=llminferenceservice"},
		{"pytorchjob running", "PyTorchJob", `
metadata: {name: train-a}
status:
  conditions:
    - {type: Created, status: "True", reason: PyTorchJobCreated}
    - {type: Running, status: "True", reason: PyTorchJobRunning, message: "PyTorchJob train-a is running."}
`, "Running", "PyTorchJobRunning: PyTorchJob train-a is running.", "training.kubeflow.org/job-name=train-a"},
		{"pytorchjob succeeded after running", "PyTorchJob", `
metadata: {name: train-b}
status:
  conditions:
    - {type: Created, status: "True"}
    - {type: Running, status: "False"}
    - {type: Succeeded, status: "True", reason: PyTorchJobSucceeded}
`, "Succeeded", "PyTorchJobSucceeded", "training.kubeflow.org/job-name=train-b"},
		{"pytorchjob no condition holds", "PyTorchJob", `
metadata: {name: train-c}
status: {conditions: [{type: Created, status: "False"}]}
`, "Created", "", "training.kubeflow.org/job-name=train-c"},
		{"pytorchjob no status", "PyTorchJob", `
metadata: {name: train-d}
`, "Pending", "", "training.kubeflow.org/job-name=train-d"},
		{"trainjob complete", "TrainJob", `
metadata: {name: tj}
status: {conditions: [{type: Complete, status: "True", reason: JobsCompleted}]}
`, "Complete", "JobsCompleted", "jobset.sigs.k8s.io/jobset-name=tj"},
		{"rayjob with cluster", "RayJob", `
metadata: {name: ray-a}
status: {jobDeploymentStatus: Running, jobStatus: RUNNING, rayClusterName: ray-a-raycluster-x7k2p}
`, "Running", "", "ray.io/cluster=ray-a-raycluster-x7k2p"},
		{"rayjob job status only", "RayJob", `
metadata: {name: ray-b}
status: {jobStatus: SUCCEEDED, message: done}
`, "SUCCEEDED", "done", "ray.io/originated-from-crd=RayJob,ray.io/originated-from-cr-name=ray-b"},
		{"notebook running", "Notebook", `
metadata: {name: notebook-a}
status: {readyReplicas: 1}
`, "Running", "", "notebook-name=notebook-a"},
		{"notebook ready condition", "Notebook", `
metadata: {name: nb}
status: {readyReplicas: 0, conditions: [{type: Ready, status: "True"}]}
`, "Running", "", "notebook-name=nb"},
		{"notebook stopped", "Notebook", `
metadata: {name: nb, annotations: {kubeflow-resource-stopped: "2026-01-02T03:04:05Z"}}
status: {readyReplicas: 1}
`, "Stopped", "", "notebook-name=nb"},
		{"notebook waiting", "Notebook", `
metadata: {name: nb}
status: {readyReplicas: 0, containerState: {waiting: {reason: ImagePullBackOff, message: "Back-off pulling image"}}}
`, "Pending", "ImagePullBackOff: Back-off pulling image", "notebook-name=nb"},
		{"dspa ready", "DataSciencePipelinesApplication", `
metadata: {name: dspa}
status: {conditions: [{type: APIServerReady, status: "True"}, {type: Ready, status: "True"}]}
`, "Ready", "", "dspa=dspa"},
		{"workflow failed", "Workflow", `
metadata: {name: iris-pipeline-a1b2c}
status: {phase: Failed, message: "child 'step-2' failed"}
`, "Failed", "child 'step-2' failed", "workflows.argoproj.io/workflow=iris-pipeline-a1b2c"},
		{"workflow new", "Workflow", `
metadata: {name: wf}
`, "Pending", "", "workflows.argoproj.io/workflow=wf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := resource(t, tc.kind)
			w := r.Describe(object(t, tc.doc))
			assert.Equal(t, tc.status, w.Status)
			assert.Equal(t, tc.message, w.Message)
			assert.Equal(t, tc.selector, w.PodSelector)
			assert.Equal(t, tc.kind, w.Kind)
			assert.Equal(t, r.Type, w.Type)
			assert.Equal(t, r.APIVersion(), w.APIVersion)
			assert.Equal(t, "2026-01-02T03:04:05Z", w.Created)
			assert.NotNil(t, w.Metrics)
		})
	}
}

func TestResources(t *testing.T) {
	want := map[Type][]string{
		ModelServing: {"inferenceservices.serving.kserve.io", "llminferenceservices.serving.kserve.io"},
		Training:     {"pytorchjobs.kubeflow.org", "trainjobs.trainer.kubeflow.org", "rayjobs.ray.io"},
		Notebook:     {"notebooks.kubeflow.org"},
		Pipeline:     {"datasciencepipelinesapplications.datasciencepipelinesapplications.opendatahub.io", "workflows.argoproj.io"},
	}
	for _, typ := range Types {
		var got []string
		for _, r := range ResourcesOf(typ) {
			got = append(got, r.CRD())
		}
		assert.Equal(t, want[typ], got, typ)
	}
	assert.Len(t, ResourcesOf(), 8)
	assert.Equal(t, "serving.kserve.io/v1beta1", resource(t, "InferenceService").APIVersion())
	assert.Equal(t, "serving.kserve.io/v1alpha1", resource(t, "LLMInferenceService").APIVersion())
	assert.Equal(t, "trainer.kubeflow.org/v1alpha1", resource(t, "TrainJob").APIVersion())
	assert.Equal(t, "argoproj.io/v1alpha1", resource(t, "Workflow").APIVersion())
	_, ok := ParseType("notebooks")
	assert.False(t, ok)
}
