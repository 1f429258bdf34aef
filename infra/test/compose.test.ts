import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import Ajv from 'ajv'
import { parse } from 'yaml'

const ROOT = resolve(__dirname, '../..')
// The compose-spec's own JSON schema (github.com/compose-spec/compose-spec, schema/compose-spec.json),
// kept beside this test so it runs offline; COMPOSE_SPEC_SCHEMA checks against another copy.
const SCHEMA = process.env.COMPOSE_SPEC_SCHEMA ?? resolve(__dirname, 'compose-spec.json')

interface Service {
  image?: string
  build?: unknown
  ports?: string[]
  container_name?: string
  restart?: string
  healthcheck?: { test: string[] }
  depends_on?: Record<string, { condition: string }>
  environment?: Record<string, string>
  deploy?: { replicas?: number }
  volumes?: string[]
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>
  volumes: Record<string, unknown>
}
const services = compose.services
const SCALABLE = ['api', 'mailer', 'worker']
const ONE_SHOT = ['rabbitmq-definitions', 'minio-setup']

describe('docker-compose.yml', () => {
  test('docker-compose config -q accepts it with the variables of .env.example', () => {
    // Throws (non-zero exit) with compose's own message on any error.
    execFileSync('docker-compose', ['--env-file', '.env.example', '-f', 'docker-compose.yml', 'config', '-q'], { cwd: ROOT, stdio: 'pipe' })
  })

  test('docker-compose config refuses to run without the secrets of .env', () => {
    const dir = mkdtempSync(join(tmpdir(), 'socialnet-compose-'))
    writeFileSync(join(dir, 'empty.env'), '')
    try {
      expect(() => execFileSync('docker-compose', ['--env-file', join(dir, 'empty.env'), '-f', 'docker-compose.yml', 'config', '-q'], {
        cwd: ROOT, stdio: 'pipe', env: { PATH: process.env.PATH }
      })).toThrow(/see \.env\.example/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('is valid against the compose-spec JSON schema', () => {
    expect(existsSync(SCHEMA)).toBe(true)
    const ajv = new Ajv({ strict: false, allErrors: true })
    // The spec names its draft-07 meta-schema by a URL ajv does not know (no trailing "#");
    // draft-07 is ajv's default, so the reference is dropped rather than fetched.
    const { $schema: _meta, ...schema } = JSON.parse(readFileSync(SCHEMA, 'utf8')) as Record<string, unknown>
    const validate = ajv.compile(schema)
    const raw = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true })
    const valid = validate(raw)
    expect(validate.errors ?? []).toEqual([])
    expect(valid).toBe(true)
  })

  test('has the whole topology, with api and mailer replicated', () => {
    for (const name of ['nginx', 'api', 'mailer', 'worker', 'bounces', 'rabbitmq', 'postgres', 'redis', 'mailpit', 'minio', 'minio-setup']) {
      expect(services).toHaveProperty(name)
    }
    expect(services.api?.deploy?.replicas).toBe(2)
    expect(services.mailer?.deploy?.replicas).toBe(2)
  })

  test('long-running services restart unless stopped and report their health', () => {
    for (const [name, service] of Object.entries(services)) {
      if (ONE_SHOT.includes(name)) continue
      expect([name, service.restart]).toEqual([name, 'unless-stopped'])
      // The worker serves no HTTP: its image's HEALTHCHECK (process alive) applies.
      if (name !== 'worker' && name !== 'nginx') expect([name, Boolean(service.healthcheck)]).toEqual([name, true])
      expect(service.container_name).toBeUndefined()
    }
  })

  test('scalable services have no fixed host ports; only the edge, the MX and the UIs publish ports', () => {
    for (const name of SCALABLE) expect(services[name]?.ports).toBeUndefined()
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) {
        // UIs stay on the host's loopback; only nginx (the web) and bounces (the MX of BOUNCE_DOMAIN) face the network.
        if (name !== 'nginx' && name !== 'bounces') expect(port).toMatch(/^127\.0\.0\.1:/)
      }
    }
  })

  test('apps wait for healthy dependencies', () => {
    for (const name of SCALABLE) {
      const deps = services[name]?.depends_on ?? {}
      for (const dep of ['postgres', 'rabbitmq']) expect(deps[dep]?.condition).toBe('service_healthy')
    }
    for (const dep of ['postgres', 'rabbitmq']) expect(services.bounces?.depends_on?.[dep]?.condition).toBe('service_healthy')
    expect(services.nginx?.depends_on?.api?.condition).toBe('service_healthy')
    expect(services.rabbitmq?.depends_on?.['rabbitmq-definitions']?.condition).toBe('service_completed_successfully')
  })

  test('each service talks to RabbitMQ as its own user; the api trusts only nginx for client IPs', () => {
    expect(services.api?.environment?.AMQP_URL).toMatch(/^amqp:\/\/api:/)
    expect(services.mailer?.environment?.AMQP_URL).toMatch(/^amqp:\/\/mailer:/)
    expect(services.worker?.environment?.AMQP_URL).toMatch(/^amqp:\/\/worker:/)
    expect(services.bounces?.environment?.AMQP_URL).toMatch(/^amqp:\/\/bounces:/)
    expect(services.api?.environment?.KV_LOG).toBe('postgres')
    const nginx = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')
    const nginxIp = /ipv4_address: ([\d.]+)/.exec(nginx)?.[1]
    expect(services.api?.environment?.TRUST_PROXY).toBe(nginxIp)
  })

  test('state lives in named volumes; no secret is written into the file', () => {
    for (const name of ['postgres-data', 'redis-data', 'rabbitmq-data', 'minio-data']) expect(compose.volumes).toHaveProperty(name)
    const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')
    expect(text).not.toMatch(/change-me/)
    for (const line of readFileSync(join(ROOT, '.env.example'), 'utf8').split('\n')) {
      const secret = /^([A-Z_]*(PASSWORD|SECRET)[A-Z_]*)=/.exec(line)?.[1]
      if (secret) expect(text).toContain(`\${${secret}:?`)
    }
  })

  test('the nginx service gives every placeholder of the nginx template a value', () => {
    const template = readFileSync(join(ROOT, 'infra/nginx/templates/socialnet.conf.template'), 'utf8')
    const placeholders = new Set([...template.matchAll(/\$\{([A-Z][A-Z0-9_]*)\}/g)].map((m) => m[1]))
    expect([...placeholders].filter((p) => !(p! in (services.nginx?.environment ?? {})))).toEqual([])
  })
})
