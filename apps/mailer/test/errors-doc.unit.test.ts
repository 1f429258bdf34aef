import { documentedErrorCodes } from '@socialnet/testing'
import { FailureCode } from '../src/errors'

// docs/errors.md tells operators what each code on a dead letter means: it must name
// exactly the codes src/errors.ts declares.
describe('docs/errors.md (mailer) and src/errors.ts', () => {
  it('documents every declared code, and declares every documented one', () => {
    const documented = documentedErrorCodes('mailer')
    const declared: string[] = Object.values(FailureCode)
    expect(declared.filter((code) => !documented.has(code))).toEqual([])
    expect([...documented.keys()].filter((code) => !declared.includes(code))).toEqual([])
  })
})
