import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { JOB_TYPES, type JobType } from '@socialnet/jobs'
import { BODY_BY_TYPE } from './schemas'
import { InvalidJobError } from './plugin'

const checkByType = Object.fromEntries(JOB_TYPES.map((t) => [t, TypeCompiler.Compile<TSchema>(BODY_BY_TYPE[t])])) as
  Record<JobType, TypeCheck<TSchema>>

/** Why a `POST /v1/jobs` body is not a job, in words a client can act on; undefined if it is one. */
export function explainJobBody(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be a JSON object'
  const type = (body as { type?: unknown }).type
  if (type === undefined) return `type is required (one of ${JOB_TYPES.join(', ')})`
  if (typeof type !== 'string' || !(JOB_TYPES as readonly string[]).includes(type)) {
    return `unknown job type ${JSON.stringify(type)} (one of ${JOB_TYPES.join(', ')})`
  }
  const first = checkByType[type as JobType].Errors(body).First()
  if (!first) return undefined
  return `${first.path.slice(1) || 'body'}: ${first.message.toLowerCase()} (for a ${type} job)`
}

/**
 * Validator for the job routes. Fastify's default Ajv setup removes
 * additional properties and tries union branches in turn, which can strip
 * a field that a later branch needs; TypeBox checks the branch chosen by
 * `type` instead, and the error names the job type and field at fault.
 */
// `any`: a route-level compiler must accept that route's exact schema type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const jobsValidatorCompiler: FastifySchemaCompiler<any> = ({ schema, httpPart }) => {
  if (httpPart === 'body') {
    return (data: unknown) => {
      const why = explainJobBody(data)
      return why ? { error: new InvalidJobError(why) } : { value: data }
    }
  }
  const check = TypeCompiler.Compile(schema as TSchema)
  return (data: unknown) => {
    const first = check.Errors(data).First()
    return first ? { error: new InvalidJobError(`${httpPart}${first.path}: ${first.message.toLowerCase()}`) } : { value: data }
  }
}
