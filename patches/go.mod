// The files under patches/ are added into the unpacked upstream tree by the build
// (hack/upstream/seam.sh); they compile only there, as part of github.com/perses/perses.
// This go.mod keeps `go build ./...` and `go test ./...` of the main module out of here.
module github.com/openshift-ai/observability/patches

go 1.26
