#!/usr/bin/env bash
# pack.sh <out-dir>: writes one plugin archive per line of plugins/plugins.txt into <out-dir>,
# as <mf-manifest name>-<version>.tar.gz, the form Perses' plugin.archive_paths loads.
#
# A line is an npm package `name@version`, or `./<folder>` of this repository: one of our
# plugin packages (ui-plugins/), whose build output <folder>/dist (`make ui-plugins`) is packed
# with `npm pack` into the same npm tarball form, then handled like the others.
#
# For each `name@version` line it fetches the npm tarball (cached in build/npm-pkgs/, fetched
# once), re-roots it (npm tarballs hold everything under package/), replaces whatever sits at
# the package's schemas path (package.json perses.schemasPath, default "schemas") with our
# schemas, one folder per plugin spec.name: the whole of schemas/<Kind>/ plus the shared
# definitions of schemas/_shared/ (copied in as shared_*.cue, same package "model"), and
# archives the result reproducibly. It fails, naming every kind, when a plugin the package declares needs
# a schema (Datasource, Panel, Variable, Annotation, *Query) and schemas/<Kind>/<Kind>.cue is
# missing: the server would refuse to load that plugin.
#
# Idempotent: an archive is rebuilt only when the digest of its inputs (tarball, schema files,
# this script) differs from the one recorded next to it (.<archive>.inputs). Archives of an
# older version of one of our plugins are removed so the server never loads two versions.
set -euo pipefail

usage() { echo "usage: $0 <out-dir>" >&2; exit 2; }
[[ $# -eq 1 ]] || usage

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
list="$root/plugins/plugins.txt"
schemas="$root/schemas"
cache="$root/build/npm-pkgs"
npm_cache="$root/build/npm-cache"
mkdir -p "$1" "$cache"
out=$(cd "$1" && pwd)

for tool in node npm tar gzip sha256sum; do
	command -v "$tool" >/dev/null || { echo "pack.sh: $tool is required" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# fetch <name@version>: prints the cached tarball path, downloading it when absent.
fetch() {
	local spec=$1 file
	file=$(sed -e 's/^@//' -e 's#/#-#' -e 's/@\([^@]*\)$/-\1.tgz/' <<<"$spec")
	if [[ ! -s "$cache/$file" ]]; then
		local dl="$work/download"
		rm -rf "$dl" && mkdir -p "$dl"
		echo "pack.sh: npm pack $spec" >&2
		npm pack "$spec" --pack-destination "$dl" --cache "$npm_cache" --silent >/dev/null
		[[ -s "$dl/$file" ]] || { echo "pack.sh: npm pack $spec did not produce $file" >&2; exit 1; }
		mv "$dl/$file" "$cache/$file"
	fi
	echo "$cache/$file"
}

# pack_local <./folder>: prints the path of an npm tarball of <folder>/dist, made afresh
# (npm pack is reproducible: same files, same bytes, so the digest below holds).
pack_local() {
	local dir="$root/${1#./}/dist" dl="$work/local"
	[[ -f "$dir/mf-manifest.json" && -f "$dir/package.json" ]] ||
		{ echo "pack.sh: $1/dist is not built (make ui-plugins)" >&2; exit 1; }
	rm -rf "$dl" && mkdir -p "$dl"
	(cd "$dl" && npm pack "$dir" --cache "$npm_cache" --ignore-scripts --silent >/dev/null)
	local tgz=("$dl"/*.tgz)
	[[ -s ${tgz[0]} ]] || { echo "pack.sh: npm pack $1/dist produced nothing" >&2; exit 1; }
	echo "${tgz[0]}"
}

# describe <package-dir>: prints, one a line, "name@version", the version, the mf-manifest
# name, the schemas path, then "<kind> <spec.name>" for each plugin package.json declares.
describe() {
	node -e '
const fs = require("fs"), path = require("path"), dir = process.argv[1];
const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
const mf = JSON.parse(fs.readFileSync(path.join(dir, "mf-manifest.json"), "utf8"));
const perses = pkg.perses || {};
const lines = [pkg.name + "@" + pkg.version, pkg.version, mf.name || "", perses.schemasPath || "schemas"];
for (const p of perses.plugins || []) lines.push(p.kind + " " + p.spec.name);
process.stdout.write(lines.join("\n") + "\n");' "$1"
}

# Kinds the server validates against a schema (upstream IsSchemaRequired).
needs_schema() {
	case $1 in
	Datasource | Panel | Variable | Annotation | *Query) return 0 ;;
	*) return 1 ;;
	esac
}

failed=0
while IFS= read -r line || [[ -n $line ]]; do
	spec=${line%%#*}
	spec=${spec//[[:space:]]/}
	[[ -n $spec ]] || continue
	if [[ $spec =~ ^\./[a-z0-9._/-]+$ && $spec != *..* ]]; then
		tgz=$(pack_local "$spec")
	else
		[[ $spec =~ ^(@[a-z0-9._-]+/)?[a-z0-9._-]+@[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] ||
			{ echo "pack.sh: $list: \"$spec\" is neither name@exact-version nor ./folder" >&2; exit 1; }
		tgz=$(fetch "$spec")
	fi
	pkg="$work/pkg"
	rm -rf "$pkg" && mkdir -p "$pkg"
	# The two descriptors first: the whole tarball is unpacked only when the archive is rebuilt.
	tar -xzf "$tgz" -C "$pkg" --strip-components=1 --no-same-owner package/package.json package/mf-manifest.json 2>/dev/null || true
	for f in package.json mf-manifest.json; do
		[[ -f "$pkg/$f" ]] || { echo "pack.sh: $spec: $f missing from the npm tarball" >&2; exit 1; }
	done
	mapfile -t desc < <(describe "$pkg")
	[[ ${#desc[@]} -ge 4 && (${desc[0]} == "$spec" || $spec == ./*) ]] || { echo "pack.sh: $tgz is not $spec" >&2; exit 1; }
	version=${desc[1]}
	mf_name=${desc[2]}
	schemas_path=${desc[3]}
	plugins=("${desc[@]:4}")
	[[ $mf_name =~ ^[A-Za-z0-9_-]+$ ]] || { echo "pack.sh: $spec: unusable mf-manifest name \"$mf_name\"" >&2; exit 1; }
	[[ $schemas_path != /* && $schemas_path != *..* ]] || { echo "pack.sh: $spec: unsafe schemasPath \"$schemas_path\"" >&2; exit 1; }
	[[ ${#plugins[@]} -gt 0 ]] || { echo "pack.sh: $spec: package.json declares no perses.plugins" >&2; exit 1; }

	kinds=()
	missing=()
	for p in "${plugins[@]}"; do
		read -r type name <<<"$p"
		[[ $name =~ ^[A-Za-z0-9_-]+$ ]] || { echo "pack.sh: $spec: unusable plugin name \"$name\"" >&2; exit 1; }
		needs_schema "$type" || continue
		kinds+=("$name")
		[[ -f "$schemas/$name/$name.cue" ]] || missing+=("$name ($type)")
	done
	if [[ ${#missing[@]} -gt 0 ]]; then
		for m in "${missing[@]}"; do
			echo "pack.sh: $spec declares plugin kind $m but schemas/${m%% *}/${m%% *}.cue does not exist" >&2
		done
		failed=1
		continue
	fi

	archive="$mf_name-$version.tar.gz"
	stamp="$out/.$archive.inputs"
	digest=$(
		{
			sha256sum "$tgz" "${BASH_SOURCE[0]}" | cut -d' ' -f1
			if [[ ${#kinds[@]} -gt 0 ]]; then
				(cd "$schemas" && find "${kinds[@]}" -type f | LC_ALL=C sort | xargs -r sha256sum)
			fi
			(cd "$schemas" && find _shared -maxdepth 1 -type f -name '*.cue' | LC_ALL=C sort | xargs -r sha256sum)
		} | sha256sum | cut -d' ' -f1
	)

	# Drop archives of other versions of this plugin: the server would load them all.
	for old in "$out/$mf_name"-*.tar.gz; do
		[[ -e $old && $(basename "$old") != "$archive" ]] || continue
		[[ $(basename "$old") =~ ^$mf_name-[0-9]+\.[0-9]+\.[0-9]+.*\.tar\.gz$ ]] || continue
		echo "pack.sh: removing $(basename "$old") (not in plugins.txt)" >&2
		rm -f "$old" "$out/.$(basename "$old").inputs"
	done

	if [[ -f "$out/$archive" && -f $stamp && "$(cat "$stamp")" == "$digest" ]]; then
		echo "pack.sh: $archive is up to date" >&2
		continue
	fi

	tar -xzf "$tgz" -C "$pkg" --strip-components=1 --no-same-owner
	rm -rf "${pkg:?}/$schemas_path"
	for k in "${kinds[@]}"; do
		dest="$pkg/$schemas_path/$k"
		mkdir -p "$dest"
		cp -R "$schemas/$k/." "$dest/"
		for s in "$schemas"/_shared/*.cue; do
			if [[ -e $s ]]; then
				cp "$s" "$dest/shared_$(basename "$s")"
			fi
		done
	done

	tmp_archive="$work/$archive"
	(cd "$pkg" && find . -mindepth 1 | sed 's#^\./##' | LC_ALL=C sort) >"$work/files"
	tar -C "$pkg" --no-recursion --files-from="$work/files" \
		--owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00:00Z' --mode='u+rw,go+r,go-w' \
		-cf - | gzip -9 -n >"$tmp_archive"
	mv "$tmp_archive" "$out/$archive"
	echo "$digest" >"$stamp"
	echo "pack.sh: wrote $out/$archive (${kinds[*]:-no schemas})" >&2
done <"$list"

if [[ $failed -ne 0 ]]; then
	echo "pack.sh: add the missing schemas under schemas/<Kind>/ (see schemas/README.md)" >&2
	exit 1
fi
