/**
 * Builds the web pages (src/web/pages/<name>/index.html) into dist/web/pages with a manifest
 * that src/http/static-pages.ts reads. Run by `npm run build` (and so by `npm ci` and
 * `npm start`); everything is bundled, so the pages work with no internet.
 * Dev server with live reload: `npx vite --config src/web/vite.config.ts` (see README.md here).
 */
import { readdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const pagesRoot = join(here, 'pages');

/** Every folder of src/web/pages with an index.html is a page; adding one needs no edit here. */
function pageInputs(): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const entry of readdirSync(pagesRoot, { withFileTypes: true })) {
    const html = join(pagesRoot, entry.name, 'index.html');
    if (entry.isDirectory() && existsSync(html)) inputs[entry.name] = html;
  }
  return inputs;
}

export default defineConfig({
  root: pagesRoot,
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: resolve(here, '../../dist/web/pages'),
    emptyOutDir: true,
    manifest: true,
    target: 'es2022',
    // The pages are small; one file per page keeps the served set obvious.
    assetsInlineLimit: 0,
    sourcemap: false,
    rollupOptions: { input: pageInputs() },
  },
  server: {
    // `npx vite --config src/web/vite.config.ts` serves the pages with live reload and sends
    // the data routes to a running server (npm start: server 1 on :9001).
    proxy: {
      '/events': process.env.CLOUDP2P_DEV_SERVER ?? 'http://127.0.0.1:9001',
      '/dashboard/snapshot': process.env.CLOUDP2P_DEV_SERVER ?? 'http://127.0.0.1:9001',
      // The peer app's data: `cloudp2p peer ui --port 7070` (its Host check wants its own name).
      '/api': {
        target: process.env.CLOUDP2P_DEV_PEER ?? 'http://127.0.0.1:7070',
        changeOrigin: true,
      },
      '/ui': {
        target: process.env.CLOUDP2P_DEV_PEER ?? 'http://127.0.0.1:7070',
        changeOrigin: true,
      },
    },
  },
});
