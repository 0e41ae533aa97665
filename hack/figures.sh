#!/usr/bin/env bash
# Build and start-up figures of our bin/perses beside upstream's own cmd/perses, built
# from the same unpacked copy in the same run: cold and warm build time, binary size,
# time from start to healthy and idle memory, with ratios (ours / upstream).
# Both servers get the same plugin archives and an empty file database.
#
# usage: hack/figures.sh            (make bench runs it; needs make build plugins first)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${RUNS:-5}
work=$(mktemp -d /tmp/perses-figures-XXXXXX | tr 'A-Z' 'a-z'); mkdir -p "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

ldflags="-s -w -X github.com/prometheus/common/version.Version=$(cat VERSION)"
declare -A pkg=([ours]=./cmd/perses [upstream]=github.com/perses/perses/cmd/perses)

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

declare -A cold warm size healthy rss
for who in ours upstream; do
  if [ -n "${SKIP_COLD:-}" ]; then
    CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$work/$who" "${pkg[$who]}"
    cold[$who]=n/a; warm[$who]=n/a; size[$who]=$(stat -c %s "$work/$who"); continue
  fi
  echo ">> figures: cold build of $who (empty build cache)" >&2
  t0=$(now); GOCACHE=$work/gocache-$who CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$work/$who" "${pkg[$who]}"; t1=$(now)
  cold[$who]=$(secs "$t0" "$t1")
  t0=$(now); GOCACHE=$work/gocache-$who CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$work/$who" "${pkg[$who]}"; t1=$(now)
  warm[$who]=$(secs "$t0" "$t1")
  rm -rf "$work/gocache-$who"
  size[$who]=$(stat -c %s "$work/$who")
done

start_once() { # who n: writes the seconds to healthy and the pid into $work/run-<who>-<n>/
  # (run in this shell, not in $(...): a subshell would run the EXIT trap and stop it)
  local who=$1 n=$2 dir=$work/run-$1-$2
  mkdir -p "$dir"
  cat > "$dir/config.yaml" <<YAML
database: {file: {folder: $dir/data, extension: json}}
plugin: {path: $dir/plugins-runtime, archive_paths: [$root/build/plugins]}
security: {enable_auth: false, cookie: {secure: false}}
YAML
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local t0; t0=$(now)
  "$work/$who" --config "$dir/config.yaml" --web.listen-address "127.0.0.1:$port" --log.level error >"$dir/log" 2>&1 &
  echo $! > "$dir/pid"
  for _ in $(seq 1 3000); do
    if curl -fs -o /dev/null "http://127.0.0.1:$port/api/v1/health"; then secs "$t0" "$(now)" > "$dir/healthy"; return 0; fi
    sleep 0.01
  done
  echo "figures: $who did not become healthy; log:" >&2; tail -20 "$dir/log" >&2; return 1
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for who in ours upstream; do
  times=(); mems=()
  for n in $(seq 1 "$runs"); do
    start_once "$who" "$n"
    times+=("$(cat "$work/run-$who-$n/healthy")")
    pid=$(cat "$work/run-$who-$n/pid"); pids+=("$pid")
    sleep 3
    [ -d "/proc/$pid" ] || { echo "figures: $who exited; log:" >&2; tail -20 "$work/run-$who-$n/log" >&2; exit 1; }
    mems+=("$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")")
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
  healthy[$who]=$(printf '%s\n' "${times[@]}" | median)
  rss[$who]=$(printf '%s\n' "${mems[@]}" | median)
done

printf '\n%-28s %12s %12s %8s\n' "figure ($runs start runs, median)" ours upstream ratio
printf '%-28s %12s %12s %8s\n' "cold build (s)" "${cold[ours]}" "${cold[upstream]}" "$(ratio "${cold[ours]}" "${cold[upstream]}")"
printf '%-28s %12s %12s %8s\n' "warm build (s)" "${warm[ours]}" "${warm[upstream]}" "$(ratio "${warm[ours]}" "${warm[upstream]}")"
printf '%-28s %12s %12s %8s\n' "binary size (MiB)" "$(awk -v b="${size[ours]}" 'BEGIN{printf "%.1f", b/1048576}')" "$(awk -v b="${size[upstream]}" 'BEGIN{printf "%.1f", b/1048576}')" "$(ratio "${size[ours]}" "${size[upstream]}")"
printf '%-28s %12s %12s %8s\n' "start to healthy (s)" "${healthy[ours]}" "${healthy[upstream]}" "$(ratio "${healthy[ours]}" "${healthy[upstream]}")"
printf '%-28s %12s %12s %8s\n' "idle RSS after 3 s (MiB)" "${rss[ours]}" "${rss[upstream]}" "$(ratio "${rss[ours]}" "${rss[upstream]}")"
echo "plugin archives: $(ls build/plugins | wc -l); UI: embedded in both (same copy)"
