import { documentedErrorCodes } from '@socialnet/testing'
import * as errors from '../src/errors'
import { CODE_BY_STATUS } from '../src/plugins/errors'

// docs/errors.md is the clients' list of the api's codes: it must name exactly the codes
// src/errors.ts declares, each with the status the api answers it with.

/** code -> the statuses it is answered with: from each declared error, and the error handler's map. */
function declaredStatuses(): Map<string, Set<number>> {
  const statuses = new Map<string, Set<number>>()
  const add = (code: string, status?: number): void => {
    const seen = statuses.get(code) ?? new Set<number>()
    if (status !== undefined) seen.add(status)
    statuses.set(code, seen)
  }
  for (const code of Object.values(errors.ErrorCode)) add(code)
  for (const [name, value] of Object.entries(errors)) {
    if (name === 'ErrorCode') continue
    // Every other export is an error class; an instance carries its code and status.
    const error = new (value as new () => { code: string; statusCode: number })()
    add(error.code, error.statusCode)
  }
  for (const [status, code] of Object.entries(CODE_BY_STATUS)) add(code, Number(status))
  return statuses
}

describe('docs/errors.md (api) and src/errors.ts', () => {
  const documented = documentedErrorCodes('api')
  const declared = declaredStatuses()

  it('documents every declared code, and declares every documented one', () => {
    expect([...declared.keys()].filter((code) => !documented.has(code))).toEqual([])
    expect([...documented.keys()].filter((code) => !declared.has(code))).toEqual([])
  })

  it('documents each code with the one status it is answered with', () => {
    const mismatches = [...declared].flatMap(([code, statuses]) => {
      if (statuses.size > 1) return [`${code} is answered with ${[...statuses].join(' and ')}`]
      const [status] = statuses
      return status !== undefined && documented.get(code) !== String(status) ? [`${code}: ${documented.get(code)} documented, ${status} answered`] : []
    })
    expect(mismatches).toEqual([])
  })
})
