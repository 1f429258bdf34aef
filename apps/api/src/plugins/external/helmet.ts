import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'

/**
 * Security headers on every response (@fastify/helmet), set for an API:
 * `X-Content-Type-Options: nosniff` so no browser runs a JSON or KV value as
 * script or HTML, and a CSP that allows nothing to load or frame it (the
 * docs UI sets its own, see swagger.ts). HSTS only when this process serves
 * HTTPS itself: over plain HTTP the header means nothing, and behind a TLS
 * proxy that proxy owns it.
 */
export default fp(async function securityHeaders(fastify, opts: { https: boolean }) {
  await fastify.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    frameguard: { action: 'deny' },
    hsts: opts.https ? { maxAge: 31536000, includeSubDomains: true } : false,
    // Avatars are read by the console, which may live on a sibling host of the api.
    crossOriginResourcePolicy: { policy: 'same-site' }
  })
}, { name: 'security-headers' })
