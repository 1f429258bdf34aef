import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TSchema } from '@sinclair/typebox'

/**
 * Route `config` that documents a request body fastify does not validate (raw
 * bytes, multipart): with a `body` schema fastify would run it against the
 * parsed body; through @fastify/swagger's per-route transform it only reaches
 * the OpenAPI document, one entry per type in the route's `consumes`.
 */
export function documentedBody(body: TSchema) {
  return {
    swaggerTransform: ({ schema, url }: { schema: object; url: string }) => ({ schema: { ...schema, body }, url })
  }
}

/**
 * OpenAPI 3 document built from the route schemas; UI at /docs, JSON at /docs/json.
 * The UI pages get swagger-ui's own CSP (its inline script and style hashes),
 * tightened: never framed, and no upgrade-insecure-requests unless served over
 * HTTPS (over plain HTTP it would send the UI's own assets to a port with no TLS).
 */
export default fp(async function openapi(fastify, opts: { publicUrl: string; https: boolean }) {
  await fastify.register(swagger, {
    openapi: {
      info: { title: 'Social network API', version: '1.0.0', description: 'Users, sessions, avatars, key-value store, async jobs and ops routes.' },
      servers: [{ url: opts.publicUrl }],
      // Routes that need a login say `security: [{ bearerAuth: [] }]` (token from POST /v1/sessions);
      // the key-value store says `security: [{ apiKey: [] }]` (an API key sent the same way).
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'session token from POST /v1/sessions' },
          apiKey: { type: 'http', scheme: 'bearer', description: 'API key (snk_…) from `npm run admin -- api-key create --scope kv:write`; kv:write includes kv:read' }
        }
      }
    }
  })
  await fastify.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list' },
    staticCSP: true,
    transformStaticCSP: (header) => {
      const csp = header.replace("frame-ancestors 'self'", "frame-ancestors 'none'")
      return opts.https ? csp : csp.replace(/\s*upgrade-insecure-requests;?/, '')
    }
  })
}, { name: 'openapi' })
