#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and etcd, the real control plane the tests
# start (internal/testenv), into <out-dir> from the wrapper module in this folder. A no-op when
# the binaries exist and are newer than the wrapper's go.mod and go.sum. A cold build takes
# about 15 minutes on two cores; the Go build cache makes later ones quick (~15 s).
#
#   hack/kube/build.sh build/tools
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 <out-dir>" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)

fresh() {
  local bin=$out/$1
  [ -x "$bin" ] && [ "$bin" -nt "$here/go.mod" ] && [ "$bin" -nt "$here/go.sum" ]
}
if fresh kube-apiserver && fresh kube-controller-manager && fresh etcd; then
  exit 0
fi

echo ">> kube: building kube-apiserver, kube-controller-manager and etcd into $out (cold: ~15 min)"
start=$(date +%s)
tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# The Kubernetes commands report the version stamped at link time (/version, --version), as a release does.
kube=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")
minor=${kube#v1.}; minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$kube -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
# All in one go build so they share the compile graph; etcd's main package is
# go.etcd.io/etcd/server/v3, which go build would name "server".
(
  cd "$here"
  GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager go.etcd.io/etcd/server/v3
)
mv "$tmp/kube-apiserver" "$out/kube-apiserver"
mv "$tmp/kube-controller-manager" "$out/kube-controller-manager"
mv "$tmp/server" "$out/etcd"
echo ">> kube: built in $(( $(date +%s) - start ))s: $("$out/kube-apiserver" --version), etcd $("$out/etcd" --version | awk '/etcd Version/ { print $3 }')"
