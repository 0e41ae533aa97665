#!/usr/bin/env bash
# Our TypeScript plugin packages (ui-plugins/<name>): install their npm dependencies from the
# committed lock, then build or test them.
#   hack/ui/plugins.sh build <folder>...   rsbuild into <folder>/dist (plugins/pack.sh packs it), and
#                                          each rsbuild.<page>.config.ts (pages the server embeds)
#   hack/ui/plugins.sh test <folder>...    type-check and vitest
# The packages take @perses-dev/spec from the stock UI's build (build/ui/vendor/spec, made
# by hack/ui/build.sh): the npm registry does not serve it.
set -euo pipefail
[[ $# -ge 2 && ($1 == build || $1 == test) ]] || { echo "usage: $0 build|test <folder>..." >&2; exit 2; }
action=$1; shift
root=$(cd "$(dirname "$0")/../.." && pwd)
npm_flags=(--no-audit --no-fund --loglevel=error --cache "$root/build/npm-cache")
[[ -f $root/build/ui/vendor/spec/dist/index.js ]] ||
  { echo "ui-plugins: build/ui/vendor/spec is missing: build the stock UI first (make ui)" >&2; exit 1; }

for dir in "$@"; do
  cd "$root/$dir"
  # npm ci when the lock changed since the last install (npm writes node_modules/.package-lock.json).
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    echo ">> ui-plugins: npm ci ($dir)"
    npm ci "${npm_flags[@]}"
  fi
  case $action in
  build)
    echo ">> ui-plugins: building $dir"
    npx --no-install rsbuild build >/dev/null
    test -f dist/mf-manifest.json || { echo "ui-plugins: $dir: the build produced no dist/mf-manifest.json" >&2; exit 1; }
    # A package may also build pages the server embeds (rsbuild.<page>.config.ts).
    for page in rsbuild.*.config.ts; do
      [[ -e $page ]] || continue
      echo ">> ui-plugins: building $dir ($page)"
      npx --no-install rsbuild build -c "$page" >/dev/null
    done
    ;;
  test)
    echo ">> ui-plugins: testing $dir"
    npx --no-install tsc --noEmit
    npx --no-install vitest run
    ;;
  esac
done
