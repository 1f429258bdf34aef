/**
 * The bare Fastify baseline the KV rows are measured against: a GET that
 * returns a constant and a PUT that keeps the raw body in a Map. Same Fastify,
 * same logger level, same body parsing as the api's KV routes, none of the
 * store, metrics or plugins.
 */
import Fastify from 'fastify'

const app = Fastify({ logger: { level: process.env.LOG_LEVEL || 'warn' } })
const memory = new Map<string, Buffer>()
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
app.get('/health', async () => ({ status: 'ok' }))
app.get('/const/:key', async (_request, reply) => reply.type('application/octet-stream').send(Buffer.from('bench-value-0123456789')))
app.put<{ Params: { key: string }, Body: Buffer }>('/mem/:key', async (request, reply) => {
  memory.set(request.params.key, request.body)
  return reply.code(201).send()
})
void app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
