import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

const PROBE_PATHS = new Set(['/health', '/ready', '/metrics'])

/** True for health, readiness and metrics requests. */
function isProbe(request: FastifyRequest): boolean {
  const url = request.url ?? ''
  const end = url.indexOf('?')
  return PROBE_PATHS.has(end === -1 ? url : url.slice(0, end))
}

/**
 * Fastify's per-request log lines, with probes and scrapes at debug: an
 * orchestrator asks /health and /ready every few seconds on every replica,
 * and at info those lines would drown the ones a person reads. A failing
 * probe (5xx) still logs at error.
 */
export class RequestLog extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (isProbe(request)) request.log.debug({ req: request }, 'incoming request')
    else super.incomingRequest(request, reply)
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (isProbe(request) && !error) reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
    else super.requestCompleted(error, request, reply)
  }
}
