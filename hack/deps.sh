#!/usr/bin/env bash
# Installs what the tests need beyond Go: Debian packages (Prometheus, Chromium, the
# tools the build calls) and the browser driver's npm packages. Idempotent and quiet
# when everything is there. Needs root (or sudo) for apt-get.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

need=()
command -v prometheus >/dev/null || need+=(prometheus)
command -v promtool   >/dev/null || need+=(prometheus)
[ -x /usr/bin/chromium ]          || need+=(chromium)
command -v node >/dev/null        || need+=(nodejs npm)
command -v patch >/dev/null       || need+=(patch)
command -v gzip >/dev/null        || need+=(gzip)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo ">> deps: apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
fi

# The databases the store tests use: the machine's PostgreSQL (127.0.0.1:5432) and
# MariaDB (127.0.0.1:3306). Start the machine's own servers if they are installed but down.
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if [ -d /etc/postgresql ]; then
    echo ">> deps: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  fi
fi
if command -v mariadb-admin >/dev/null && ! mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; then
  if [ -x /usr/sbin/mariadbd ]; then
    echo ">> deps: starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
    for _ in $(seq 1 30); do mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1 && break; sleep 1; done
  fi
fi

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "deps: Node.js $(node --version 2>/dev/null || echo missing) is too old: the UI build and playwright-core need Node.js 20 or newer (NodeSource's nodejs 20 package, or nvm)" >&2
  exit 1
fi

# npm packages of the test components: the browser driver and the OIDC provider.
for dir in e2e/browser hack/oidc; do
  if [ -f "$root/$dir/package-lock.json" ]; then
    if [ ! -d "$root/$dir/node_modules" ] || [ "$root/$dir/package-lock.json" -nt "$root/$dir/node_modules" ]; then
      echo ">> deps: npm ci ($dir)"
      (cd "$root/$dir" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
    fi
  fi
done
