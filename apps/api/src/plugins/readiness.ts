import fp from 'fastify-plugin'

type Check = () => Promise<void>

/** Named dependency checks behind `GET /ready`; each plugin registers its own. */
export interface Readiness {
  add(name: string, check: Check): void
  /** Runs every check with a timeout; `ok` is false if any failed. */
  check(timeoutMs?: number): Promise<{ ok: boolean; checks: Record<string, 'ok' | string> }>
}

declare module 'fastify' {
  interface FastifyInstance {
    readiness: Readiness
  }
}

export default fp(async function readiness(fastify) {
  const checks = new Map<string, Check>()
  fastify.decorate('readiness', {
    add(name: string, check: Check) { checks.set(name, check) },
    async check(timeoutMs = 2000) {
      const results: Record<string, string> = {}
      await Promise.all([...checks].map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs)
        })
        try {
          await Promise.race([check(), timeout])
          results[name] = 'ok'
        } catch (err) {
          results[name] = (err as Error).message || 'failed'
        } finally {
          clearTimeout(timer)
        }
      }))
      return { ok: Object.values(results).every((r) => r === 'ok'), checks: results }
    }
  })
}, { name: 'readiness' })
