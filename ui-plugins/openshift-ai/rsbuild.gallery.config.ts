// The template gallery page (src/gallery), served by the binary at /templates
// (extension/gallery embeds what this writes into extension/gallery/static/page).
import { defineConfig } from '@rsbuild/core';
import { pluginReact } from '@rsbuild/plugin-react';

export default defineConfig({
  source: { entry: { index: './src/gallery/index.tsx' } },
  html: { title: 'Dashboard templates · Perses', mountId: 'root' },
  output: {
    // The server moves these below its api_prefix when it has one (extension/gallery).
    assetPrefix: '/templates/',
    distPath: { root: '../../extension/gallery/static/page' },
    cleanDistPath: true,
    legalComments: 'none',
  },
  performance: { chunkSplit: { strategy: 'all-in-one' } },
  plugins: [pluginReact()],
});
