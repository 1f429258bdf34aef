/** One ajv error as fastify hands it over in `err.validation`. */
export interface ValidationIssue {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message?: string
}

/** A bad field and what is wrong with it, in words a client can act on. */
export interface FieldProblem {
  field: string
  message: string
}

/** `body` + `/user/0/name` -> `body.user.0.name`. */
function fieldName(context: string, instancePath: string, child?: unknown): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
  if (typeof child === 'string') parts.push(child)
  return [context, ...parts].join('.')
}

/**
 * Turns ajv's errors (collected with `allErrors`) into one problem per field:
 * unknown and missing fields are named, and a choice (`enum`, or TypeBox's
 * union of literals, which ajv reports as one `const` miss per branch plus an
 * `anyOf`) lists every allowed value, e.g. `must be one of thumb|128|512`.
 */
export function describeValidationErrors(errors: ValidationIssue[], context: string): FieldProblem[] {
  const problems = new Map<string, string>()
  const choices = new Map<string, unknown[]>()
  for (const e of errors) {
    if (e.keyword === 'const') {
      const field = fieldName(context, e.instancePath)
      choices.set(field, [...(choices.get(field) ?? []), e.params.allowedValue])
    } else if (e.keyword === 'enum') {
      choices.set(fieldName(context, e.instancePath), e.params.allowedValues as unknown[])
    }
  }
  for (const [field, values] of choices) problems.set(field, `must be one of ${values.map(String).join('|')}`)
  for (const e of errors) {
    if (e.keyword === 'const' || e.keyword === 'enum') continue
    if (e.keyword === 'additionalProperties') {
      problems.set(fieldName(context, e.instancePath, e.params.additionalProperty), 'is not a known field')
    } else if (e.keyword === 'required') {
      problems.set(fieldName(context, e.instancePath, e.params.missingProperty), 'is required')
    } else {
      const field = fieldName(context, e.instancePath)
      // A union's summary ("must match a schema in anyOf") says less than the branch errors already kept.
      if (e.keyword === 'anyOf' && problems.has(field)) continue
      // A format says what the value should be (`must match format "email"`); a pattern beside it only how.
      if (!problems.has(field) || (e.keyword === 'format' && e.params.format !== undefined)) problems.set(field, e.message ?? 'is invalid')
    }
  }
  return [...problems].map(([field, message]) => ({ field, message }))
}
