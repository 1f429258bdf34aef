import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Where `npm run build` puts the console, resolved from this package (src/ or dist/ alike). */
export const DEFAULT_CONSOLE_DIR = join(__dirname, '..', '..', '..', 'console', 'dist')

/**
 * First path segments the console may never claim: the API, its docs and
 * probes, the book's job routes, and the console's own hashed files.
 */
export const RESERVED_SEGMENTS = new Set(['v1', 'docs', 'health', 'ready', 'metrics', 'job', 'assets'])
const PAGE_PATH = /^\/([a-z][a-z0-9-]{0,31})$/

/** The built console as the api serves it: its page (read once) and the paths that show it. */
export interface ConsoleBuild {
  dir: string
  indexHtml: Buffer
  /** A strong validator of index.html, so a browser revalidates it for a 304. */
  etag: string
  /** The console's own routes (`/login`, `/verify`, ...), from the build's pages.json. */
  pages: string[]
}

/**
 * Reads the console's build output, or answers undefined when there is none
 * (an api image without the console, a checkout not yet built). A build that
 * is there but broken (pages.json missing or claiming an API path) throws:
 * serving half a console would be worse than refusing to start.
 */
export function readConsoleBuild(dir: string): ConsoleBuild | undefined {
  const indexPath = join(dir, 'index.html')
  if (!existsSync(indexPath)) return undefined
  const indexHtml = readFileSync(indexPath)
  const pagesPath = join(dir, 'pages.json')
  let pages: unknown
  try {
    pages = JSON.parse(readFileSync(pagesPath, 'utf8'))
  } catch (err) {
    throw new Error(`console build in ${dir} has no readable pages.json (${(err as Error).message}); rebuild it with npm run build`)
  }
  if (!Array.isArray(pages) || pages.length === 0) throw new Error(`${pagesPath}: expected a non-empty array of page paths`)
  for (const page of pages) {
    const segment = typeof page === 'string' ? PAGE_PATH.exec(page)?.[1] : undefined
    if (!segment || RESERVED_SEGMENTS.has(segment)) throw new Error(`${pagesPath}: ${JSON.stringify(page)} is not a console page path (one lower-case segment, not an API path)`)
  }
  const etag = `"${createHash('sha256').update(indexHtml).digest('base64url').slice(0, 27)}"`
  return { dir, indexHtml, etag, pages: pages as string[] }
}
