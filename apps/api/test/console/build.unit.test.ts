import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readConsoleBuild } from '../../src/console/build'
import { fakeConsoleBuild } from './fake-build'

describe('reading the console build', () => {
  const dirs: string[] = []
  const build = (pages?: unknown) => { const dir = fakeConsoleBuild(pages); dirs.push(dir); return dir }
  afterAll(() => { for (const dir of dirs) rmSync(dir, { recursive: true, force: true }) })

  test('no index.html: no console (nothing to serve, not an error)', () => {
    expect(readConsoleBuild(join(build(), 'nowhere'))).toBeUndefined()
  })

  test('reads the page and the paths it is served at', () => {
    const console = readConsoleBuild(build(['/login', '/check-inbox']))
    expect(console?.pages).toEqual(['/login', '/check-inbox'])
    expect(console?.etag).toMatch(/^"[\w-]{27}"$/)
  })

  test.each([
    ['an API path', ['/v1']],
    ['a probe', ['/health']],
    ['the book routes', ['/job']],
    ['a nested path', ['/admin/x']],
    ['a non-string', [42]],
    ['an empty list', []],
    ['an object', { pages: ['/login'] }]
  ])('a pages.json with %s stops the start with the reason', (_name, pages) => {
    expect(() => readConsoleBuild(build(pages))).toThrow(/pages\.json/)
  })

  test('a build without pages.json stops the start and says how to fix it', () => {
    const dir = build()
    rmSync(join(dir, 'pages.json'))
    expect(() => readConsoleBuild(dir)).toThrow(/no readable pages\.json.*npm run build/)
    writeFileSync(join(dir, 'pages.json'), '{not json')
    expect(() => readConsoleBuild(dir)).toThrow(/no readable pages\.json/)
  })
})
