import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

/** OpenAPI 3 document built from the route schemas; UI at /docs, JSON at /docs/json. */
export default fp(async function openapi(fastify, opts: { publicUrl: string }) {
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
  await fastify.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } })
}, { name: 'openapi' })
