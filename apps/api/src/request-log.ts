import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route's requests are logged at debug unless they fail (the console's files: see RequestLog). */
    quietLog?: boolean
  }
}

const PROBE_PATHS = new Set(['/health', '/ready', '/metrics'])

/**
 * Query parameters whose value is a credential (the verification link's
 * `token`, OAuth-style tokens, keys, signatures) or may carry one (a callback
 * URL is often itself a secret, like a chat webhook's): logged as `[redacted]`.
 */
const SECRET_PARAMS = new Set([
  'token', 'access_token', 'refresh_token', 'id_token', 'api_key', 'apikey', 'key', 'secret', 'client_secret',
  'password', 'code', 'signature', 'sig', 'x-amz-signature', 'x-amz-credential', 'x-amz-security-token', 'callback_url'
])

/** The URL with every secret-bearing query value replaced by `[redacted]`; the rest is kept as sent. */
export function redactUrl(url: string): string {
  const start = url.indexOf('?')
  if (start === -1) return url
  const query = url.slice(start + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=')
    const rawName = eq === -1 ? pair : pair.slice(0, eq)
    let name: string
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '))
    } catch {
      name = rawName
    }
    return SECRET_PARAMS.has(name.toLowerCase()) && eq !== -1 ? `${rawName}=[redacted]` : pair
  })
  return `${url.slice(0, start)}?${query.join('&')}`
}

/** Fastify's request log fields, with the URL's secrets redacted (a verification token in a log line is a login to the account). */
export function serializeRequest(req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: redactUrl(req.url ?? ''),
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort
  }
}

/** Whether the request's logger writes info lines (and so possibly debug ones: debug is below info). */
function infoEnabled(request: FastifyRequest): boolean {
  return (request.log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('info') ?? true
}

/** True for health, readiness and metrics requests, and for routes marked `quietLog`. */
function isQuiet(request: FastifyRequest): boolean {
  if (request.routeOptions?.config?.quietLog === true) return true
  const url = request.url ?? ''
  const end = url.indexOf('?')
  return PROBE_PATHS.has(end === -1 ? url : url.slice(0, end))
}

/**
 * Fastify's per-request log lines, with probes, scrapes and the web console's
 * own files at debug: an orchestrator asks /health and /ready every few
 * seconds on every replica, and each console page load fetches its script,
 * style sheet and icon; at info those lines would drown the ones a person
 * reads. A failing one (5xx) still logs at error. Response times are rounded
 * to 0.01 ms.
 */
export class RequestLog extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    // Below info (LOG_LEVEL=warn, or a route's logLevel) neither line is written: skip the route lookup.
    if (!infoEnabled(request)) return
    if (isQuiet(request)) request.log.debug({ req: request }, 'incoming request')
    else super.incomingRequest(request, reply)
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request) || (!error && !infoEnabled(request))) return
    // Milliseconds to two decimals: 135.28, not 135.27908700000262.
    const responseTime = Math.round(reply.elapsedTime * 100) / 100
    if (error) reply.log.error({ res: reply, err: error, responseTime }, 'request errored')
    else if (isQuiet(request)) reply.log.debug({ res: reply, responseTime }, 'request completed')
    else reply.log.info({ res: reply, responseTime }, 'request completed')
  }
}
