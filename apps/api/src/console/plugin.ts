import { join } from 'node:path'
import fp from 'fastify-plugin'
import fastifyStatic from '@fastify/static'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { helmetHeaders } from '../plugins/external/helmet'
import { RESERVED_SEGMENTS, readConsoleBuild, type ConsoleBuild } from './build'
import { NotAPageError } from '../errors'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * onRequest hook for a route that a browser may open as a page (`GET /`):
     * a request that asks for `text/html` gets the console's index.html, any
     * other goes on to the route's own handler. Does nothing without a console build.
     */
    consolePage: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>
    /**
     * For the not-found handler: a browser opening a path that is no route
     * and could be a page (not under an API prefix, no file extension) gets
     * the console with status 404, and the console shows its own not-found
     * page. Answers undefined for anything else, which keeps its JSON 404.
     */
    consoleNotFound: (request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined
  }
}

/** Hashed file names (`index-3f9a….js`) never change content: cached for a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable'

/**
 * The console page's Content-Security-Policy: its own scripts, styles and API
 * only (no inline script or style, nothing from elsewhere), images also from
 * PUBLIC_URL (avatar URLs are absolute) and blob: (the preview of a picked file).
 */
function consoleCsp(publicUrl: string): string {
  const imageOrigin = new URL(publicUrl).origin
  return helmetHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", imageOrigin, 'blob:', 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"]
      }
    }
  })['content-security-policy']!
}

/** True for a browser navigating to a page: it names `text/html` (curl's and fetch's `*\/*` does not). */
function asksForHtml(request: FastifyRequest): boolean {
  return (request.method === 'GET' || request.method === 'HEAD') && /\btext\/html\b/i.test(request.headers.accept ?? '')
}

/** If-None-Match as RFC 9110 compares it for a GET: any listed tag, weak or strong, or `*`. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  return header !== undefined && header.split(',').some((tag) => {
    const t = tag.trim()
    return t === '*' || t === etag || t === `W/${etag}`
  })
}

function pageSender(build: ConsoleBuild, csp: string) {
  return async function consolePage(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    // The same URL answers a page or JSON by the Accept header: no cache may hand one to the other.
    void reply.header('vary', 'accept')
    if (!asksForHtml(request)) return undefined
    void reply.header('content-security-policy', csp)
      // The page names the current hashed files: a browser must ask again (a 304 costs nothing).
      .header('cache-control', 'no-cache')
      .header('etag', build.etag)
    if (matchesEtag(request.headers['if-none-match'], build.etag)) return reply.code(304).send()
    return reply.code(200).type('text/html; charset=utf-8').send(build.indexHtml)
  }
}

/** Could `path` be a console page: not under an API prefix and not a file (`/favicon.ico`, `/pages.json`)? */
function mayBePage(path: string): boolean {
  const segments = path.split('/').filter(Boolean)
  return !RESERVED_SEGMENTS.has(segments[0] ?? '') && !(segments.at(-1) ?? '').includes('.')
}

function notFoundSender(build: ConsoleBuild, csp: string) {
  return function consoleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    if (!asksForHtml(request) || !mayBePage(request.url.split('?')[0]!)) return undefined
    return reply.code(404).header('vary', 'accept').header('content-security-policy', csp).header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8').send(build.indexHtml)
  }
}

export interface ConsoleOptions {
  /** The console's build output (CONSOLE_DIR). */
  dir: string
  publicUrl: string
}

/**
 * Serves the web console (apps/console) from its build output: index.html for
 * browsers at `/` and at each console page (`/login`, `/verify`, ...; listed
 * by the build in pages.json), hashed files under `/assets/` cached for good.
 * Anything else, the API included, is untouched: a client that does not ask
 * for HTML still gets `GET /`'s JSON links, and a console path answers it 404.
 * A browser opening an unknown path gets the console's own not-found page.
 * Without a build it logs one line and serves nothing.
 */
export default fp(async function consoleFiles(fastify, opts: ConsoleOptions) {
  const build = readConsoleBuild(opts.dir)
  if (!build) {
    fastify.log.info({ dir: opts.dir }, 'no web console build here (npm run build makes one): not serving the console')
    fastify.decorate('consolePage', async () => undefined)
    fastify.decorate('consoleNotFound', () => undefined)
    return
  }
  const csp = consoleCsp(opts.publicUrl)
  const consolePage = pageSender(build, csp)
  fastify.decorate('consolePage', consolePage)
  fastify.decorate('consoleNotFound', notFoundSender(build, csp))

  await fastify.register(async function consoleRoutes(scope) {
    // Every page load fetches these again (a 304 mostly): logged at debug, failures still at error.
    scope.addHook('onRoute', (route) => { route.config = { ...route.config, quietLog: true } })
    // Files are listed once at start (wildcard: false): no request reaches the disk for a file that was not built.
    await scope.register(fastifyStatic, {
      root: join(build.dir, 'assets'),
      prefix: '/assets/',
      wildcard: false,
      decorateReply: false,
      cacheControl: false,
      setHeaders: (reply) => { void reply.header('cache-control', IMMUTABLE) }
    })
    // Unhashed files copied from the console's public/ folder (the icon): revalidated on each use.
    await scope.register(fastifyStatic, {
      root: build.dir,
      prefix: '/',
      wildcard: false,
      index: false,
      decorateReply: false,
      globIgnore: ['assets/**', 'index.html', 'pages.json'],
      cacheControl: false,
      setHeaders: (reply) => { void reply.header('cache-control', 'no-cache') }
    })
    for (const page of build.pages) {
      scope.get(page, { onRequest: consolePage, schema: { hide: true } }, async () => {
        throw new NotAPageError(page)
      })
    }
  })
  fastify.log.info({ dir: build.dir, pages: build.pages.length }, 'serving the web console at /')
}, { name: 'console', dependencies: ['security-headers'] })
