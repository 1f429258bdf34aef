import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { NothingToChangeError, UserNotFoundError } from '../errors'
import { findUserById, updateUser, type User } from './repository'
import { publicProfile } from './routes'
import { ErrorBody } from '../plugins/errors'
import { Nickname, PersonName, PublicProfile, UserParams } from './schemas'

/** What the owner sees of their own account: the public profile plus the e-mail address. */
const OwnProfile = Type.Composite([PublicProfile, Type.Object({
  email: Type.String(),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')], { description: 'admins may use /v1/admin/*' })
})])

const ProfilePatch = Type.Object({
  nickname: Type.Optional(Nickname),
  firstName: Type.Optional(Type.Union([PersonName, Type.Null()])),
  lastName: Type.Optional(Type.Union([PersonName, Type.Null()]))
}, { additionalProperties: false, minProperties: 1 })

function ownProfile(user: User) {
  return { ...publicProfile(user), email: user.email, role: user.role === 'admin' ? 'admin' as const : 'user' as const }
}

/**
 * The signed-in user's own account: `GET /v1/users/me` and
 * `PATCH /v1/users/{id}` (owner only). E-mail and password changes are not
 * offered here: they need re-verification and the old password.
 */
const accountRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/v1/users/me', {
    onRequest: fastify.authenticate,
    schema: {
      tags: ['users'],
      summary: 'The signed-in user, with e-mail address',
      security: [{ bearerAuth: [] }],
      response: { 200: OwnProfile, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    const user = await findUserById(fastify.db, request.auth!.userId)
    if (!user) throw new UserNotFoundError()
    // The e-mail address is for its owner only: no shared or browser cache may keep it.
    void reply.header('cache-control', 'no-store')
    return ownProfile(user)
  })

  fastify.patch('/v1/users/:id', {
    onRequest: [fastify.authenticate, fastify.requireOwner],
    bodyLimit: 16 * 1024,
    schema: {
      tags: ['users'],
      summary: 'Change nickname or names (owner only)',
      security: [{ bearerAuth: [] }],
      params: UserParams,
      body: ProfilePatch,
      response: { 200: OwnProfile, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    // Unknown fields are stripped by validation, so `{ email }` arrives empty here.
    if (Object.keys(request.body).length === 0) throw new NothingToChangeError()
    const user = await updateUser(fastify.db, request.params.id, request.body)
    if (!user) throw new UserNotFoundError()
    request.log.info({ userId: user.id, fields: Object.keys(request.body) }, 'profile updated')
    void reply.header('cache-control', 'no-store')
    return ownProfile(user)
  })
}

export default accountRoutes
