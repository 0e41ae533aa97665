#!/usr/bin/env bash
# Unpacks upstream Perses from the Go module proxy into a git-ignored copy, checks the
# copy against the module's pinned h1: hash, then adds the seam (the files of patches/)
# and applies its diffs. Idempotent: when the version, the hash and every seam file
# are unchanged, it does nothing.
#
# usage: hack/upstream/seam.sh <module@version> <h1:hash> <dest>
set -euo pipefail
modver=$1 want=$2 dest=$(realpath -m "$3")
root=$(cd "$(dirname "$0")/../.." && pwd)
patches=$root/patches

seam_files() { (cd "$patches" && find . -type f ! -name go.mod ! -name README.md | LC_ALL=C sort); }
stamp=$( { echo "$modver $want"; (cd "$patches" && seam_files | xargs sha256sum); } | sha256sum | cut -d' ' -f1)
if [ -f "$dest/.seam-stamp" ] && [ "$(cat "$dest/.seam-stamp")" = "$stamp" ]; then
  exit 0
fi

info=$(go mod download -json "$modver")
dir=$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$info")
sum=$(sed -n 's/^\t"Sum": "\(.*\)",$/\1/p' <<<"$info")
if [ "$sum" != "$want" ]; then
  echo "upstream: checksum mismatch for $modver: the module proxy serves $sum, the build pins $want." >&2
  echo "upstream: refusing to build on unverified upstream code (see README, 'Upgrading upstream')." >&2
  exit 1
fi

tmp="$dest.tmp"
rm -rf "$tmp" && mkdir -p "$(dirname "$dest")" && cp -r "$dir" "$tmp" && chmod -R u+w "$tmp"
got=$(cd "$root/hack/upstream/dirhash" && go run . "$tmp" "$modver")
if [ "$got" != "$want" ]; then
  echo "upstream: the unpacked copy of $modver hashes to $got, want $want" >&2
  exit 1
fi

echo ">> seam: adding $(seam_files | grep -vc '\.diff$') files, applying $(seam_files | grep -c '\.diff$' || true) diffs to $modver"
while read -r f; do
  case "$f" in
    *.diff) ;;
    *) mkdir -p "$tmp/$(dirname "$f")" && cp "$patches/$f" "$tmp/$f" ;;
  esac
done < <(seam_files)
while read -r f; do
  if ! patch -d "$tmp" -p1 --forward --batch --quiet < "$patches/$f"; then
    echo "upstream: the seam diff patches/$f does not apply to $modver: re-check it (README, 'Upgrading upstream')" >&2
    exit 1
  fi
done < <(seam_files | grep '\.diff$' || true)

# Keep the embedded UI that an earlier build put in place: it does not depend on the seam.
if [ -d "$dest/ui/app/dist" ]; then mv "$dest/ui/app/dist" "$tmp/ui/app/dist"; fi
rm -rf "$dest" && mv "$tmp" "$dest"
echo "$stamp" > "$dest/.seam-stamp"
