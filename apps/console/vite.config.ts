import { defineConfig, type Plugin } from 'vite'
import { PAGE_PATHS } from './src/pages.ts'

/** Emits dist/pages.json: the console's paths, which the api serves index.html at. */
function pagesManifest(): Plugin {
  return {
    name: 'socialnet-pages-manifest',
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: 'pages.json', source: `${JSON.stringify(PAGE_PATHS)}\n` })
    }
  }
}

export default defineConfig({
  plugins: [pagesManifest()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The polyfill would be an inline script, which the api's Content-Security-Policy refuses;
    // every browser the console supports has modulepreload.
    modulePreload: { polyfill: false }
  },
  // `npm run dev -w @socialnet/console`: the API of a running `npm start` behind Vite's dev server.
  server: {
    proxy: Object.fromEntries(['/v1', '/docs', '/health'].map((path) => [path, { target: process.env.API_URL ?? 'http://127.0.0.1:3000' }]))
  }
})
