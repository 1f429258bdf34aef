// @ts-check
'use strict'
const { readFileSync, writeFileSync, mkdirSync } = require('node:fs')
const { execFileSync } = require('node:child_process')
const { join, resolve } = require('node:path')

const INFRA_NGINX = resolve(__dirname, '../../infra/nginx')
// The web console's build: nginx serves it here as in the compose image.
const CONSOLE_DIR = resolve(__dirname, '../../apps/console/dist')
const NGINX_BIN = process.env.NGINX_BIN ?? 'nginx'

/**
 * How long nginx leaves out an api replica after a refused connect. A restarted
 * replica takes traffic again only after this, so a rolling restart waits it
 * out before stopping the next one (else nginx would have no live upstream).
 */
const UPSTREAM_FAIL_TIMEOUT_S = 1

/**
 * Fills `${NAME}` placeholders (upper case only: lower-case `$names` are nginx's
 * own variables). Same rule as the nginx image's envsubst step, except that a
 * missing value is an error here instead of a silently broken config.
 * @param {string} text @param {Record<string, string>} vars
 */
function renderTemplate(text, vars) {
  return text.replace(/\$\{([A-Z][A-Z0-9_]*)\}/g, (_match, name) => {
    const value = vars[name]
    if (value === undefined) throw new Error(`template variable ${name} has no value`)
    return value
  })
}

/**
 * @typedef {object} LoopbackNginxOptions
 * @property {string} prefix          directory nginx owns: conf/, logs/, tmp/, nginx.pid
 * @property {number} httpPort
 * @property {number} httpsPort
 * @property {string} tlsCert
 * @property {string} tlsKey
 * @property {number[]} upstreamPorts the api replicas on 127.0.0.1
 * @property {number} rateLimitRps    0 turns nginx's limits off, like the api's RATE_LIMIT_RPS
 * @property {number} uploadMaxBytes
 */

/**
 * The template variables for loopback processes: the same meaning docker compose
 * gives them in docker-compose.yml (`nginx.environment`).
 * @param {LoopbackNginxOptions} o
 */
function loopbackVariables(o) {
  const limited = o.rateLimitRps > 0
  return {
    NGINX_RESOLVER: '# static loopback upstreams: no resolver needed',
    // Each replica twice: as a primary that a refused connect takes out for fail_timeout (one
    // probe a second instead of one refused connect per request while it restarts), and as a
    // backup that is never taken out. When both primaries are out at once (one restarting, the
    // other just refused or failed a request) nginx goes to the backups, where a refused connect
    // is again retried on the next one, instead of answering 502 "no live upstreams".
    NGINX_UPSTREAM_SERVERS: [
      ...o.upstreamPorts.map((port) => `server 127.0.0.1:${port} max_fails=1 fail_timeout=${UPSTREAM_FAIL_TIMEOUT_S}s;`),
      ...o.upstreamPorts.map((port) => `server 127.0.0.1:${port} backup max_fails=0;`)
    ].join('\n    '),
    NGINX_HTTP_LISTEN: `127.0.0.1:${o.httpPort}`,
    NGINX_HTTPS_LISTEN: `127.0.0.1:${o.httpsPort}`,
    NGINX_TLS_CERT: o.tlsCert,
    NGINX_TLS_KEY: o.tlsKey,
    NGINX_ACCESS_LOG: join(o.prefix, 'logs/access.log'),
    NGINX_CLIENT_MAX_BODY_SIZE: String(o.uploadMaxBytes),
    NGINX_RATE_LIMIT: limited ? 'on' : 'off',
    // nginx wants a positive rate even when the empty key means nothing is counted.
    NGINX_RATE_RPS: String(limited ? o.rateLimitRps : 1),
    NGINX_RATE_BURST: String(limited ? o.rateLimitRps * 2 : 1),
    NGINX_CONN_PER_IP: '200',
    NGINX_PREFIX: o.prefix,
    NGINX_CONSOLE_DIR: CONSOLE_DIR,
    // Debian's nginx started by root would run its workers as nobody, who cannot
    // write into the stack's private temp dirs.
    NGINX_USER: process.getuid?.() === 0 ? 'user root;' : ''
  }
}

/**
 * Writes conf/nginx.conf (loopback main) and conf/socialnet.conf (the shared
 * http context) under the prefix; returns the main config path.
 * @param {LoopbackNginxOptions} o
 */
function renderLoopbackNginx(o) {
  for (const dir of ['conf', 'logs', 'tmp']) mkdirSync(join(o.prefix, dir), { recursive: true })
  const vars = loopbackVariables(o)
  const http = renderTemplate(readFileSync(join(INFRA_NGINX, 'templates/socialnet.conf.template'), 'utf8'), vars)
  const main = renderTemplate(readFileSync(join(INFRA_NGINX, 'loopback.conf.template'), 'utf8'), vars)
  writeFileSync(join(o.prefix, 'conf/socialnet.conf'), http)
  const confPath = join(o.prefix, 'conf/nginx.conf')
  writeFileSync(confPath, main)
  return confPath
}

/** nginx arguments for a prefix: `-e stderr` keeps it away from /var/log/nginx. @param {string} prefix */
function nginxArgs(prefix) {
  return ['-p', prefix, '-c', join(prefix, 'conf/nginx.conf'), '-e', 'stderr']
}

/** Runs `nginx -t`; throws with nginx's own message when the config is bad. @param {string} prefix */
function testNginxConfig(prefix) {
  try {
    return execFileSync(NGINX_BIN, [...nginxArgs(prefix), '-t'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (err) {
    const e = /** @type {{ stderr?: string, message: string }} */ (err)
    throw new Error(`nginx -t failed: ${e.stderr?.trim() || e.message}`)
  }
}

module.exports = { renderTemplate, renderLoopbackNginx, testNginxConfig, nginxArgs, NGINX_BIN, UPSTREAM_FAIL_TIMEOUT_S }
