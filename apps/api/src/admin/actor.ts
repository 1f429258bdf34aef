import type { FastifyInstance, FastifyRequest } from 'fastify'

/** The audit trail's "who" for an admin request: the admin's user id and e-mail (`user:<id> <email>`). */
export async function adminActor(fastify: FastifyInstance, request: FastifyRequest): Promise<string> {
  const userId = request.auth!.userId
  const { rows } = await fastify.db.query<{ email: string }>('SELECT email FROM users WHERE id = $1', [userId])
  return `user:${userId}${rows[0] ? ` <${rows[0].email}>` : ''}`
}
