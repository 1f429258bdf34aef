import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const INDEX_HTML = '<!doctype html><html><head><script type="module" src="/assets/index-Ab12Cd34.js"></script></head><body><div id="app"></div></body></html>'

/** A console build as Vite leaves it (index.html, hashed assets, public files, pages.json), in a temp dir. */
export function fakeConsoleBuild(pages: unknown = ['/login', '/verify', '/admin']): string {
  const dir = mkdtempSync(join(tmpdir(), 'socialnet-console-'))
  mkdirSync(join(dir, 'assets'))
  writeFileSync(join(dir, 'index.html'), INDEX_HTML)
  writeFileSync(join(dir, 'assets', 'index-Ab12Cd34.js'), 'console.log("console")\n')
  writeFileSync(join(dir, 'assets', 'index-Ef56Gh78.css'), 'body { margin: 0 }\n')
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>')
  writeFileSync(join(dir, 'pages.json'), JSON.stringify(pages))
  return dir
}
