#!/usr/bin/env bash
# Builds kube-apiserver and etcd, the real control plane the tests start (internal/testenv),
# into <out-dir> from the wrapper module in this folder. A no-op when both binaries exist and
# are newer than the wrapper's go.mod and go.sum. A cold build takes about ten minutes on two
# cores; the Go build cache makes later ones quick.
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
if fresh kube-apiserver && fresh etcd; then
  exit 0
fi

echo ">> kube: building kube-apiserver and etcd into $out (cold: ~10 min)"
start=$(date +%s)
tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Both in one go build so the two share the compile graph; etcd's main package is
# go.etcd.io/etcd/server/v3, which go build would name "server".
(
  cd "$here"
  GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver go.etcd.io/etcd/server/v3
)
mv "$tmp/kube-apiserver" "$out/kube-apiserver"
mv "$tmp/server" "$out/etcd"
echo ">> kube: built in $(( $(date +%s) - start ))s: $("$out/kube-apiserver" --version), etcd $("$out/etcd" --version | awk '/etcd Version/ { print $3 }')"
