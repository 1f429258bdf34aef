import FindMyWay from 'find-my-way'

type Method = FindMyWay.HTTPMethod

/** RFC 9110's order (PATCH beside PUT), so `Allow` reads the same on every route. */
const ORDER: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE']
const rank = (m: string) => (ORDER.includes(m) ? ORDER.indexOf(m) : ORDER.length)

/** The router settings that decide whether a path matches (fastify's own `routerOptions`). */
export interface PathMatchOptions {
  ignoreTrailingSlash?: boolean
  ignoreDuplicateSlashes?: boolean
  maxParamLength?: number
  caseSensitive?: boolean
}

/**
 * Every route's path by method, matched by the same router fastify uses
 * (find-my-way), so the not-found handler can tell a known path with a wrong
 * method (405 with `Allow`) from a path no route has (404). Fastify exposes
 * lookups only by route pattern (`hasRoute`), not by a request's concrete path.
 */
export class MethodRoutes {
  private readonly router: FindMyWay.Instance<FindMyWay.HTTPVersion.V1>
  private readonly methods = new Set<Method>()

  constructor(options: PathMatchOptions) {
    const { ignoreTrailingSlash, ignoreDuplicateSlashes, maxParamLength, caseSensitive } = options
    this.router = FindMyWay({ ignoreTrailingSlash, ignoreDuplicateSlashes, maxParamLength, caseSensitive })
  }

  /** Records a route as fastify's onRoute hook reports it. */
  add(method: string | string[], url: string): void {
    for (const m of [method].flat() as Method[]) {
      this.methods.add(m)
      if (!this.router.hasRoute(m, url)) this.router.on(m, url, () => {})
    }
  }

  /** The methods some route takes on this concrete path (percent-encoded, no query), in the usual order; empty if none. */
  allowed(path: string): Method[] {
    return [...this.methods].filter((m) => this.router.find(m, path) !== null).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
  }
}
