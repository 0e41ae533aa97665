#!/usr/bin/env bash
# Builds the stock Perses UI from the Go module's ui/ folder into build/ui/app/dist.
# usage: hack/ui/build.sh <perses-version> <spec-version>
set -euo pipefail
perses_version=$1 spec_version=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build
npm_flags=(--no-audit --no-fund --loglevel=error)

src() { go mod download -json "$1@$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }
perses_src=$(src github.com/perses/perses "$perses_version")
spec_src=$(src github.com/perses/spec "$spec_version")
[ -d "$perses_src/ui" ] || { echo "ui: cannot find ui/ of github.com/perses/perses@$perses_version" >&2; exit 1; }
[ -d "$spec_src/ts" ] || { echo "ui: cannot find ts/ of github.com/perses/spec@$spec_version" >&2; exit 1; }

# build/ holds copies of upstream folders with Go files: a go.mod keeps them out of ./...
mkdir -p "$out" && [ -f "$out/go.mod" ] || printf 'module build.invalid/ignored\n\ngo 1.26\n' > "$out/go.mod"

if [ ! -f "$out/spec/.built" ]; then
  echo ">> ui: building @perses-dev/spec from github.com/perses/spec@$spec_version"
  rm -rf "$out/spec" && mkdir -p "$out" && cp -r "$spec_src/ts" "$out/spec" && chmod -R u+w "$out/spec"
  (cd "$out/spec" && npm ci "${npm_flags[@]}" \
    && npx swc ./src -d dist --strip-leading-paths --config-file .swcrc \
    && npx swc ./src -d dist/cjs --strip-leading-paths --config-file .cjs.swcrc \
    && npx tsc -p tsconfig.build.json)
  touch "$out/spec/.built"
fi

echo ">> ui: installing the stock UI of github.com/perses/perses@$perses_version"
rm -rf "$out/ui.tmp" && cp -r "$perses_src/ui" "$out/ui.tmp" && chmod -R u+w "$out/ui.tmp"
if [ -d "$out/ui/node_modules" ]; then mv "$out/ui/node_modules" "$out/ui.tmp/node_modules"; fi
rm -rf "$out/ui" && mv "$out/ui.tmp" "$out/ui"
node "$root/hack/ui/patch-ui.mjs" "$out/ui" "$out/spec"
(cd "$out/ui" && npm install "${npm_flags[@]}")
echo ">> ui: building"
(cd "$out/ui" && npm run build -w @perses-dev/core && NODE_OPTIONS=--max-old-space-size=4096 npm run build -w @perses-dev/app)
test -f "$out/ui/app/dist/index.html" || { echo "ui: build produced no index.html" >&2; exit 1; }
echo ">> ui: built $(du -sh "$out/ui/app/dist" | cut -f1) in $out/ui/app/dist"
