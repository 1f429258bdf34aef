import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { JOB_TYPES, type JobType } from '@socialnet/jobs'
import { BODY_BY_TYPE } from './schemas'
import { InvalidJobError } from '../errors'

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
  // Check() is the compiled fast path; the interpreted Errors() walk only runs for a bad body,
  // and names every field at fault, not just the first.
  const check = checkByType[type as JobType]
  const problems = check.Check(body) ? [] : describe(check.Errors(body))
  if (problems.length) return `${problems.join('; ')} (for a ${type} job)`
  const data = (body as { data?: unknown }).data
  const why = data === undefined ? undefined : explainData(data)
  return why ? `data: ${why} (for a ${type} job)` : undefined
}

/** One `field: problem` line per field at fault (its first error: "required" before "expected string"). */
function describe(errors: Iterable<{ path: string; message: string }>): string[] {
  const byField = new Map<string, string>()
  for (const e of errors) if (!byField.has(e.path)) byField.set(e.path, `${e.path.slice(1) || 'body'}: ${e.message.toLowerCase()}`)
  return [...byField.values()]
}

/** Deep enough for any real document; a 64 KiB body of `[[[[...` would otherwise overflow JSON.stringify's stack (500). */
const DATA_MAX_DEPTH = 64

/**
 * Why job `data` cannot travel and be stored as it is, or undefined. Walks
 * iteratively (the depth is what is being checked), and refuses text Postgres
 * jsonb cannot hold (NUL, unpaired surrogates): the worker would retry such a
 * log job until it dead-letters instead of the client hearing a 400 now.
 */
function explainData(data: unknown): string | undefined {
  const stack: Array<{ value: unknown; depth: number }> = [{ value: data, depth: 1 }]
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!
    if (typeof value === 'string') {
      if (!storableText(value)) return 'text must not contain NUL characters or unpaired surrogates'
      continue
    }
    if (typeof value !== 'object' || value === null) continue
    if (depth > DATA_MAX_DEPTH) return `nested deeper than ${DATA_MAX_DEPTH} levels`
    for (const [key, child] of Object.entries(value)) {
      if (!storableText(key)) return 'text must not contain NUL characters or unpaired surrogates'
      stack.push({ value: child, depth: depth + 1 })
    }
  }
  return undefined
}

// eslint-disable-next-line no-control-regex -- NUL is exactly what this looks for
const NUL_OR_LONE_SURROGATE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function storableText(text: string): boolean {
  return !NUL_OR_LONE_SURROGATE.test(text)
}

/**
 * Validator for the job routes. Fastify's default Ajv setup removes
 * additional properties and tries union branches in turn, which can strip
 * a field that a later branch needs; TypeBox checks the branch chosen by
 * `type` instead, and the error names the job type and field at fault.
 */
// `any`: a route-level compiler must accept that route's exact schema type.

export const jobsValidatorCompiler: FastifySchemaCompiler<any> = ({ schema, httpPart }) => {
  if (httpPart === 'body') {
    return (data: unknown) => {
      const why = explainJobBody(data)
      return why ? { error: new InvalidJobError(why) } : { value: data }
    }
  }
  const check = TypeCompiler.Compile(schema as TSchema)
  return (data: unknown) => {
    const problems = check.Check(data) ? [] : describe(check.Errors(data)).map((line) => `${httpPart}.${line}`)
    return problems.length ? { error: new InvalidJobError(problems.join('; ')) } : { value: data }
  }
}
