// The module-federation remote the stock Perses UI loads from /plugins/OpenShiftAI/ (the
// layout of upstream's plugin archives: mf-manifest.json, __mf/, package.json).
import { pluginModuleFederation } from '@module-federation/rsbuild-plugin';
import { defineConfig } from '@rsbuild/core';
import { pluginReact } from '@rsbuild/plugin-react';

const name = 'OpenShiftAI'; // the mf-manifest name: the archive's and the /plugins/ folder's name
const assetPrefix = `/plugins/${name}/`;

export default defineConfig({
  source: { entry: { main: './src/index-federation.ts' } },
  output: {
    assetPrefix,
    copy: [{ from: 'package.json' }],
    distPath: { root: 'dist', js: '__mf/js', css: '__mf/css', font: '__mf/font' },
    cleanDistPath: true,
  },
  plugins: [
    pluginReact(),
    pluginModuleFederation({
      name,
      exposes: { './OpenShiftAIWorkloadVariable': './src/OpenShiftAIWorkloadVariable.tsx' },
      // What the 0.54 UI provides (@perses-dev/plugin-system's PluginRuntime): one React, one
      // emotion (so MUI here takes the UI's theme). MUI is not shared by the UI: bundled, as
      // upstream's plugins do.
      shared: {
        react: { requiredVersion: '^18.2.0', singleton: true },
        'react-dom': { requiredVersion: '^18.2.0', singleton: true },
        '@emotion/react': { requiredVersion: '^11.11.0', singleton: true },
        '@emotion/styled': { requiredVersion: '^11.11.0', singleton: true },
      },
      dts: false,
      getPublicPath: `function() { return (window.PERSES_PLUGIN_ASSETS_PATH || window.PERSES_APP_CONFIG?.api_prefix || "") + "${assetPrefix}"; }`,
    }),
  ],
  tools: { htmlPlugin: false },
});
