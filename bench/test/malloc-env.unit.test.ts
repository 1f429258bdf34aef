import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { imageMemoryEnv, ROOT } from '../src/harness'

describe('the api\'s memory settings', () => {
  it('are read from the image\'s Dockerfile, and supervisor runs the api with the same ones', () => {
    const env = imageMemoryEnv()
    expect(env).toEqual({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '33554432', NODE_OPTIONS: '--max-semi-space-size=8' })
    const supervisor = readFileSync(join(ROOT, 'infra', 'supervisor', 'socialnet.conf'), 'utf8')
    const api = supervisor.slice(supervisor.indexOf('[program:api]'), supervisor.indexOf('[program:', supervisor.indexOf('[program:api]') + 1))
    for (const [name, value] of Object.entries(env)) expect(api).toContain(`${name}="${value}"`)
  })
})
