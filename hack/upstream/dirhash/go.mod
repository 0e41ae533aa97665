module github.com/openshift-ai/observability/hack/upstream/dirhash

go 1.26

require golang.org/x/mod v0.38.0
