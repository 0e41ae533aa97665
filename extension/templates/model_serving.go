package templates

import (
	"fmt"

	"github.com/perses/spec/go/dashboard"
)

// vLLM publishes its metrics as vllm:<name>; RHOAI's KServe runtimes may scrape them
// with a kserve_vllm: prefix. Older vLLM releases name two of them differently.
var (
	vllmPrefixes = []string{"vllm:", "kserve_vllm:"}
	// byModel selects the dashboard's model; every vLLM metric carries model_name.
	byModel = `{model_name=~"$model"}`
)

// vllm lists a metric's names under every prefix, each older name after the newer.
func vllm(names ...string) []string {
	var out []string
	for _, p := range vllmPrefixes {
		for _, n := range names {
			out = append(out, p+n)
		}
	}
	return out
}

// quantiles are the p50, p95 and p99 of a vLLM latency histogram.
func quantiles(names ...string) []query {
	var out []query
	for _, p := range []struct{ q, legend string }{{"0.5", "p50"}, {"0.95", "p95"}, {"0.99", "p99"}} {
		sum := either(`sum by (le) (rate(%s_bucket`+byModel+`[5m]))`, vllm(names...)...)
		out = append(out, q(fmt.Sprintf("histogram_quantile(%s, %s)", p.q, sum), p.legend))
	}
	return out
}

// ModelServing watches the vLLM model servers of KServe InferenceServices and
// LLMInferenceServices: traffic, errors, latency, token throughput, queue, KV cache
// and replicas of one served model.
func ModelServing() *Template {
	success := vllm("request_success_total")
	failed := either(`sum(rate(%s{model_name=~"$model",finished_reason=~"error|abort"}[5m]))`, success...)
	all := either(`sum(rate(%s`+byModel+`[5m]))`, success...)
	return &Template{
		ID:          "model-serving",
		Name:        "Model serving",
		Description: "A vLLM model served by KServe (InferenceService or LLMInferenceService): request and error rates, end-to-end latency, time to first token, inter-token latency, token throughput, queue, KV-cache use and replicas.",
		Category:    CategoryModelServing,
		Variables: []Variable{{
			Name: "model_name", Type: TypeLabelValue, Required: true, Label: "Model name",
			Description: "The served model name: vLLM's model_name label (KServe sets it to the InferenceService's name unless --served-model-name says otherwise).",
		}},
		Dashboard: newDashboard(
			"Model serving: "+placeholder("model_name"),
			"vLLM metrics of the served model, confined to this project's namespace.",
			[]dashboard.Variable{workloadVariable("model", "Model", "The project's model servers; the panels show the vLLM metrics whose model_name is the one chosen", CategoryModelServing, placeholder("model_name"))},
			section{title: "Traffic", cells: []cell{
				wide("request_rate", timeSeries("Request rate", "Requests finished per second (vllm:request_success_total, any finish reason).", unitRequests, false,
					q(all, "requests/s"))),
				wide("error_rate", timeSeries("Error rate", "Share of finished requests that ended in an error or were aborted (finished_reason error|abort); 0 when there were none.", unitRatio, false,
					q("("+failed+" or vector(0)) / ("+all+")", "errors"))),
			}},
			section{title: "Latency", cells: []cell{
				wide("latency", timeSeries("End-to-end request latency", "p50, p95 and p99 of vllm:e2e_request_latency_seconds over 5 minutes.", unitSeconds, false,
					quantiles("e2e_request_latency_seconds")...)),
				wide("time_to_first_token", timeSeries("Time to first token", "p50, p95 and p99 of vllm:time_to_first_token_seconds.", unitSeconds, false,
					quantiles("time_to_first_token_seconds")...)),
				wide("inter_token_latency", timeSeries("Inter-token latency", "p50, p95 and p99 of vllm:inter_token_latency_seconds (vllm:time_per_output_token_seconds on older vLLM).", unitSeconds, false,
					quantiles("inter_token_latency_seconds", "time_per_output_token_seconds")...)),
				wide("tokens", timeSeries("Tokens per second", "Prompt tokens read and tokens generated per second.", unitCounts, true,
					q(either(`sum(rate(%s`+byModel+`[5m]))`, vllm("prompt_tokens_total")...), "prompt"),
					q(either(`sum(rate(%s`+byModel+`[5m]))`, vllm("generation_tokens_total")...), "generation"))),
			}},
			section{title: "Capacity", cells: []cell{
				wide("queue", timeSeries("Queue", "Requests being processed (running) and waiting for a slot (waiting).", unitDecimal, false,
					q(either(`sum(%s`+byModel+`)`, vllm("num_requests_running")...), "running"),
					q(either(`sum(%s`+byModel+`)`, vllm("num_requests_waiting")...), "waiting"))),
				small("kv_cache", gauge("KV-cache use", "Share of the KV cache in use, averaged over replicas (vllm:kv_cache_usage_perc; vllm:gpu_cache_usage_perc on older vLLM).", 0.8, 0.95,
					q(either(`avg(%s`+byModel+`)`, vllm("kv_cache_usage_perc", "gpu_cache_usage_perc")...), "KV cache"))),
				small("replicas", stat("Replicas", "Model server pods reporting this model (one vllm:num_requests_running series per pod).", unitDecimal,
					q(either(`count(count by (pod) (%s`+byModel+`))`, vllm("num_requests_running")...), "replicas"))),
			}},
		),
	}
}
