import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { renderLoopbackNginx, renderTemplate, testNginxConfig } from '../../scripts/lib/nginx'

const ROOT = resolve(__dirname, '../..')
let dir: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'socialnet-nginx-'))
  execFileSync(join(ROOT, 'infra/tls/make-dev-cert.sh'), [join(dir, 'tls')], { stdio: 'pipe' })
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function render(prefix: string, rateLimitRps: number): string {
  renderLoopbackNginx({
    prefix: join(dir, prefix),
    httpPort: 18080,
    httpsPort: 18443,
    tlsCert: join(dir, 'tls/cert.pem'),
    tlsKey: join(dir, 'tls/key.pem'),
    upstreamPorts: [18101, 18102],
    rateLimitRps,
    uploadMaxBytes: 10485760
  })
  return readFileSync(join(dir, prefix, 'conf/socialnet.conf'), 'utf8')
}

describe('nginx config rendered for loopback', () => {
  test('passes nginx -t', () => {
    const conf = render('limited', 50)
    expect(() => testNginxConfig(join(dir, 'limited'))).not.toThrow()
    expect(conf).toMatch(/least_conn;/)
    expect(conf).toContain('server 127.0.0.1:18101')
    expect(conf).toContain('server 127.0.0.1:18102')
    expect(conf).toContain('client_max_body_size  10485760;')
    expect(conf).toMatch(/rate=50r\/s/)
    expect(conf).toMatch(/burst=100 nodelay/)
    expect(conf).not.toMatch(/\$\{[A-Z]/)
  })

  test('with rate limiting off (RATE_LIMIT_RPS=0) still passes nginx -t', () => {
    const conf = render('unlimited', 0)
    expect(() => testNginxConfig(join(dir, 'unlimited'))).not.toThrow()
    expect(conf).toContain('map "off" $socialnet_limit_key')
  })

  test('retries refused connects for every method, sent requests only when idempotent', () => {
    const conf = render('retries', 50)
    const directive = /proxy_next_upstream\s+([^;]+);/.exec(conf)?.[1]
    expect(directive?.split(/\s+/).sort()).toEqual(['error', 'http_502', 'http_503', 'timeout'])
  })

  test('event streams (SSE) pass unbuffered, with a read timeout above the 15 s heartbeat', () => {
    const conf = render('events', 50)
    const block = /location ~ \^\/v1\/\(events\|admin\/events\|jobs\/\[\^\/\]\+\/events\)\$ \{([^}]*)\}/.exec(conf)?.[1] ?? ''
    expect(block).toMatch(/proxy_buffering off;/)
    expect(Number(/proxy_read_timeout\s+(\d+)s;/.exec(block)?.[1])).toBeGreaterThan(15)
    for (const path of ['/v1/events', '/v1/admin/events', '/v1/jobs/0b0c/events']) expect(path).toMatch(/^\/v1\/(events|admin\/events|jobs\/[^/]+\/events)$/)
  })

  test('one client address: a cap on its connections (limit_conn) and slow headers cut within 10 s', () => {
    const conf = render('connections', 50)
    expect(conf).toMatch(/limit_conn_zone \$socialnet_limit_key zone=api_conn:\d+m;/)
    expect(Number(/limit_conn api_conn (\d+);/.exec(conf)?.[1])).toBeGreaterThan(0)
    expect(Number(/client_header_timeout\s+(\d+)s;/.exec(conf)?.[1])).toBeLessThanOrEqual(10)
  })

  test('room for 3,000 connections that never finish their headers: 8,192 per worker, in the image and on loopback', () => {
    render('workers', 50)
    const image = readFileSync(join(ROOT, 'infra/nginx/nginx.conf'), 'utf8')
    const loopback = readFileSync(join(dir, 'workers', 'conf/nginx.conf'), 'utf8')
    for (const conf of [image, loopback]) {
      expect(Number(/worker_connections\s+(\d+);/.exec(conf)?.[1])).toBeGreaterThanOrEqual(8192)
      expect(Number(/worker_rlimit_nofile\s+(\d+);/.exec(conf)?.[1])).toBeGreaterThanOrEqual(16384)
    }
    expect(readFileSync(join(ROOT, 'infra/nginx/Dockerfile'), 'utf8')).toContain('COPY infra/nginx/nginx.conf /etc/nginx/nginx.conf')
  })

  test('nginx closes idle upstream sockets before a stopping api would (SHUTDOWN_DRAIN_MS, 3 s)', () => {
    const conf = render('keepalive', 50)
    const upstream = /upstream api \{([^}]*)\}/.exec(conf)?.[1] ?? ''
    const seconds = Number(/keepalive_timeout\s+(\d+)s;/.exec(upstream)?.[1])
    expect(seconds).toBeGreaterThan(0)
    expect(seconds * 1000).toBeLessThan(3000)
  })

  test('loopback: a restarting replica is left out briefly, and never all of them at once (backups)', () => {
    const conf = render('backups', 50)
    for (const port of [18101, 18102]) {
      expect(conf).toMatch(new RegExp(`server 127\\.0\\.0\\.1:${port} max_fails=1 fail_timeout=1s;`))
      expect(conf).toMatch(new RegExp(`server 127\\.0\\.0\\.1:${port} backup max_fails=0;`))
    }
  })

  test('nginx -t reports a broken config with its own message', () => {
    render('broken', 50)
    const conf = join(dir, 'broken/conf/socialnet.conf')
    execFileSync('sed', ['-i', 's/least_conn;/least_conn_typo;/', conf])
    expect(() => testNginxConfig(join(dir, 'broken'))).toThrow(/unknown directive "least_conn_typo"/)
  })

  /* eslint-disable no-template-curly-in-string -- nginx template placeholders */
  test('a placeholder without a value is an error, not a silently broken config', () => {
    expect(() => renderTemplate('listen ${NGINX_HTTP_LISTEN}; set $x $host;', {})).toThrow(/NGINX_HTTP_LISTEN/)
    expect(renderTemplate('listen ${NGINX_HTTP_LISTEN}; set $x $host;', { NGINX_HTTP_LISTEN: '80' })).toBe('listen 80; set $x $host;')
  })
  /* eslint-enable no-template-curly-in-string */

  test('/metrics and /ready are internal: denied at the edge, exact path and below it', () => {
    const conf = render('internal', 50)
    for (const path of ['metrics', 'ready']) {
      expect(conf).toContain(`location = /${path} { deny all; }`)
      expect(conf).toContain(`location ^~ /${path}/ { deny all; }`)
    }
  })

  test('the console pages nginx answers with index.html are exactly the console\'s pages', () => {
    const conf = render('console', 50)
    const regex = /location ~ \^\/\(([a-z|-]+)\)\?\$ \{\s*try_files \$socialnet_console_page @api;/.exec(conf)?.[1]
    const pages = JSON.parse(readFileSync(join(ROOT, 'apps/console/dist/pages.json'), 'utf8')) as string[]
    expect(regex?.split('|').map((p) => `/${p}`).sort()).toEqual([...pages].sort())
    expect(conf).toContain(`root ${join(ROOT, 'apps/console/dist')};`)
  })
})
