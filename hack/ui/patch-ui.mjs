// usage: node hack/ui/patch-ui.mjs <ui-dir> <built-spec-dir>
//
// The stock Perses v0.54.0 UI (the ui/ folder of the Go module) names four npm
// packages that the npm registry does not serve: @perses-dev/spec@0.2.0,
// @perses-dev/client@0.54.0, @perses-dev/core@0.53.0 (nested under
// plugin-system) and @perses-dev/explore@0.54.0. This script bridges them in a
// throwaway copy of ui/:
//   - spec: built from the Go module github.com/perses/spec (ts/ folder) and
//     added as a workspace labelled 0.2.0;
//   - client: aliased to core@0.54.0, which exports everything the app imports;
//   - explore: pinned to 0.53.0-rc.2 with its Perses peers forced to 0.54.0;
//   - the stale lock entries are dropped so npm re-resolves only those.
import fs from 'node:fs';
import path from 'node:path';

const [uiDir, specDir] = process.argv.slice(2);
if (!uiDir || !specDir) {
  console.error('usage: patch-ui.mjs <ui-dir> <built-spec-dir>');
  process.exit(2);
}
const readJSON = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
const writeJSON = (f, v) => fs.writeFileSync(f, JSON.stringify(v, null, 2) + '\n');

const vendored = path.join(uiDir, 'vendor', 'spec');
fs.rmSync(vendored, { recursive: true, force: true });
fs.mkdirSync(vendored, { recursive: true });
fs.cpSync(path.join(specDir, 'dist'), path.join(vendored, 'dist'), { recursive: true });
const specPkg = readJSON(path.join(specDir, 'package.json'));
delete specPkg.devDependencies;
delete specPkg.scripts;
specPkg.version = '0.2.0';
writeJSON(path.join(vendored, 'package.json'), specPkg);

const rootPkgFile = path.join(uiDir, 'package.json');
const rootPkg = readJSON(rootPkgFile);
rootPkg.workspaces = rootPkg.workspaces.filter((w) => w !== 'e2e'); // upstream's playwright suite: not needed to build
if (!rootPkg.workspaces.includes('vendor/spec')) rootPkg.workspaces.push('vendor/spec');
const perses = '0.54.0';
rootPkg.overrides = {
  '@perses-dev/client': `npm:@perses-dev/core@${perses}`,
  '@perses-dev/explore': {
    '.': 'npm:@perses-dev/explore@0.53.0-rc.2',
    '@perses-dev/core': perses,
    '@perses-dev/components': perses,
    '@perses-dev/dashboards': perses,
    '@perses-dev/plugin-system': perses,
  },
  '@perses-dev/plugin-system': { '.': perses, '@perses-dev/core': perses },
};
writeJSON(rootPkgFile, rootPkg);

const lockFile = path.join(uiDir, 'package-lock.json');
const lock = readJSON(lockFile);
const stale = (k) =>
  /node_modules\/@perses-dev\/(client|spec|explore)$/.test(k) ||
  k.startsWith('node_modules/@perses-dev/explore/') ||
  k === 'node_modules/@perses-dev/plugin-system/node_modules/@perses-dev/core' ||
  k === 'e2e' || k.startsWith('e2e/') || k === 'node_modules/@perses-dev/e2e';
let dropped = 0;
for (const k of Object.keys(lock.packages)) {
  if (stale(k)) {
    delete lock.packages[k];
    dropped++;
  }
}
writeJSON(lockFile, lock);
console.log(`patched ${uiDir}: dropped ${dropped} stale lock entries`);
