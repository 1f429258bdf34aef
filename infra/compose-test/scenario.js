'use strict'
/**
 * The end-to-end checks of `npm run test:compose`, in the order a user meets the system:
 * bring it up, register and get the mail, scale the mailers, lose one, upload an avatar,
 * bounce a mail back to the bounce receiver (and see the address suppressed), use the
 * key-value store, restart the api under load, and probe the broker permissions. Everything
 * goes through the published ports (nginx, the inbox, the bounce receiver's SMTP) or `docker exec`.
 */
const { randomBytes } = require('node:crypto')
const { Inbox } = require('./inbox')
const { kvApiKey, publishAs, promote, dlq } = require('./probes')
const { smtpSend } = require('./smtp')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const seconds = (since) => ((performance.now() - since) / 1000).toFixed(1)
const ONE_SHOT = new Set(['rabbitmq-definitions', 'minio-setup'])

/** Polls `fn` until it returns a truthy value; throws with the last reason after `ms`. */
async function waitFor(what, fn, ms, intervalMs = 1000) {
  const deadline = Date.now() + ms
  let last
  for (;;) {
    try {
      const value = await fn()
      if (value) return value
    } catch (err) {
      last = err.message
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s${last ? ` (${last})` : ''}`)
    await sleep(intervalMs)
  }
}

function httpClient(base) {
  return async function request(method, path, { json, body, headers = {}, timeoutMs = 15_000 } = {}) {
    const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(timeoutMs) }
    if (json !== undefined) {
      init.body = JSON.stringify(json)
      init.headers['content-type'] = 'application/json'
    } else if (body !== undefined) init.body = body
    const response = await fetch(new URL(path, base), init)
    const text = await response.text()
    return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) }
  }
}

/**
 * An RFC 3464 delivery status notification, as a receiving MTA sends it back to a mail's
 * Return-Path: multipart/report with a human part, the message/delivery-status part (the
 * per-message group, then one recipient group) and the returned mail's headers.
 */
function deliveryStatusReport({ returnPath, recipient, subject }) {
  const boundary = `dsn-${randomBytes(6).toString('hex')}`
  return [
    'From: Mail Delivery System <MAILER-DAEMON@mx.example.com>',
    `To: <${returnPath}>`,
    'Subject: Undelivered Mail Returned to Sender',
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${boundary}@mx.example.com>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `Your message to <${recipient}> could not be delivered: the mailbox does not exist.`,
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.com',
    `Arrival-Date: ${new Date().toUTCString()}`,
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    'Action: failed',
    'Status: 5.1.1',
    'Remote-MTA: dns; mx.example.com',
    'Diagnostic-Code: smtp; 550 5.1.1 user unknown',
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    `Return-Path: <${returnPath}>`,
    'From: Social Network <noreply@socialnet.local>',
    `To: ${recipient}`,
    `Subject: ${subject}`,
    '',
    `--${boundary}--`,
    ''
  ].join('\r\n')
}

/** Runs `task(i)` for i in [0, count) with `concurrency` at a time, at most `perSecond` starts a second. */
async function paced(count, { concurrency, perSecond }, task) {
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (;;) {
      const i = next++
      if (i >= count) return
      const due = started + (i * 1000) / perSecond
      if (due > performance.now()) await sleep(due - performance.now())
      await task(i)
    }
  }))
}

/**
 * Reads a Server-Sent Events stream through nginx until `until(event, all)` holds; answers
 * every event read. Fails after `ms`, naming what arrived, so a buffering proxy shows as a timeout.
 */
async function readEvents(url, headers, until, ms) {
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), ms)
  const events = []
  try {
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal })
    if (response.status !== 200) throw new Error(`${url}: ${response.status} ${(await response.text()).slice(0, 200)}`)
    const decoder = new TextDecoder()
    let buffered = ''
    for await (const chunk of response.body) {
      buffered += decoder.decode(chunk, { stream: true })
      for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
        const data = buffered.slice(0, end).split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n')
        buffered = buffered.slice(end + 2)
        if (!data) continue
        events.push(JSON.parse(data))
        if (until(events[events.length - 1], events)) return events
      }
    }
    throw new Error('the stream ended')
  } catch (err) {
    if (abort.signal.aborted) throw new Error(`not within ${ms / 1000} s; got ${events.map((e) => e.type).join(', ') || 'no event'}`)
    throw err
  } finally {
    clearTimeout(timer)
    abort.abort()
  }
}

async function scenario({ project, env, check, log, interrupted }) {
  const base = `http://127.0.0.1:${env.HTTP_PORT || 8080}`
  const request = httpClient(base)
  const inbox = new Inbox('http://127.0.0.1:8025')
  const rabbitAuth = `Basic ${Buffer.from(`admin:${env.RABBITMQ_ADMIN_PASSWORD}`).toString('base64')}`
  const runId = randomBytes(3).toString('hex')
  /** Registers user `tag` through nginx; answers the 201 body. */
  const register = async (tag) => {
    const user = { email: `ct-${runId}-${tag}@example.com`, nickname: `ct${runId}x${tag}`, password: `Pw-${randomBytes(12).toString('base64url')}` }
    const response = await request('POST', '/v1/users', { json: user })
    if (response.status !== 201) throw new Error(`register ${tag}: ${response.status} ${response.text.slice(0, 200)}`)
    return { ...response.json(), password: user.password }
  }
  const mailQueue = async () => {
    const response = await fetch(`http://127.0.0.1:${env.RABBITMQ_UI_PORT || 15672}/api/queues/socialnet/socialnet.mail`, { headers: { authorization: rabbitAuth }, signal: AbortSignal.timeout(5000) })
    if (!response.ok) throw new Error(`management API: ${response.status}`)
    return response.json()
  }
  const toPublic = (url) => new URL(new URL(url).pathname + new URL(url).search, base)

  const built = await check('docker compose build: api, mailer, worker, bounces, nginx images', async () => {
    await project.compose(['build'], { timeoutMs: 30 * 60_000 })
    return 'built with the plain builder'
  })
  if (!built || interrupted()) return

  const ready = await check('docker compose up -d --build: every service healthy (their /ready inside), the api through nginx, /ready refused there', async () => {
    const started = performance.now()
    await project.compose(['up', '-d', '--build'], { timeoutMs: 10 * 60_000 })
    const containers = await waitFor('every service healthy', async () => {
      const all = await project.containers()
      const states = await Promise.all(all.map(async (c) => ({ ...c, ...(await project.state(c.id)) })))
      const waiting = states.filter((c) => ONE_SHOT.has(c.service)
        ? !(c.status === 'exited' && c.exitCode === 0)
        : !(c.status === 'running' && (c.health ?? 'healthy') === 'healthy'))
      if (waiting.length) throw new Error(`waiting for ${waiting.map((c) => `${c.name} (${c.health ?? c.status})`).join(', ')}`)
      return states
    }, 300_000, 2000)
    await waitFor('GET /health through nginx', async () => (await request('GET', '/health')).status === 200, 60_000)
    // /ready reports on our internals: the healthchecks ask it inside, the edge refuses it.
    const edge = await request('GET', '/ready')
    if (edge.status !== 403) throw new Error(`GET /ready through nginx answered ${edge.status}, expected 403`)
    const count = (service) => containers.filter((c) => c.service === service).length
    return `up to ready in ${seconds(started)} s; ${containers.length} containers (api ${count('api')}, mailer ${count('mailer')}, worker ${count('worker')})`
  })
  if (!ready || interrupted()) return

  let solo
  await check('register through nginx: exactly one welcome mail, verification link works', async () => {
    solo = await register('solo')
    const address = `ct-${runId}-solo@example.com`
    await waitFor('the welcome mail', async () => (await inbox.countsFor([address])).get(address) >= 1, 60_000)
    await sleep(2000)
    const mails = (await inbox.list()).filter((m) => m.to.includes(address))
    if (mails.length !== 1) throw new Error(`${mails.length} mails for ${address}`)
    const link = /https?:\/\/\S+\/verify\?token=[\w-]+/.exec(await inbox.text(mails[0].id))?.[0]
    if (!link) throw new Error('no verification link in the mail')
    // The link opens the console's Verify page, which calls the API with the link's token.
    const verified = await request('GET', new URL(`/v1/users/verify${new URL(link).search}`, base))
    if (verified.status !== 200) throw new Error(`verification link: ${verified.status} ${verified.text.slice(0, 200)}`)
    return `1 mail ("${mails[0].subject}"), link ${new URL(link).pathname} -> 200`
  })
  if (interrupted()) return

  await check('docker compose up -d --scale mailer=3: three consumers on the mail queue', async () => {
    await project.compose(['up', '-d', '--no-build', '--scale', 'mailer=3'], { timeoutMs: 5 * 60_000 })
    const queue = await waitFor('3 consumers', async () => {
      const q = await mailQueue()
      if (q.consumers !== 3) throw new Error(`${q.consumers} consumers`)
      return q
    }, 120_000, 2000)
    return `${queue.name}: ${queue.consumers} consumers`
  })
  if (interrupted()) return

  /** Registers `count` users (pausing `onAccepted` hooks), then counts their mails. */
  const batch = async (label, count, onAccepted) => {
    const addresses = []
    let failed = 0
    await paced(count, { concurrency: 6, perSecond: 25 }, async (i) => {
      try {
        await register(`${label}${i}`)
        addresses.push(`ct-${runId}-${label}${i}@example.com`)
        await onAccepted?.(addresses.length)
      } catch (err) {
        failed++
        log(err.message)
      }
    })
    if (failed) throw new Error(`${failed} of ${count} registrations failed`)
    const counts = await waitFor('every welcome mail', async () => {
      const c = await inbox.countsFor(addresses)
      const missing = [...c.values()].filter((n) => n === 0).length
      if (missing) throw new Error(`${missing} of ${count} mails missing`)
      return c
    }, 180_000, 2000)
    await sleep(3000) // a late duplicate would land now
    const final = await inbox.countsFor(addresses)
    return { addresses, lost: [...final.values()].filter((n) => n === 0).length, duplicated: [...final.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0), counts }
  }

  await check('300 registrations over three mailers: none lost, none twice', async () => {
    const { addresses, lost, duplicated } = await batch('b', 300)
    const wanted = new Set(addresses)
    const perMailer = []
    for (const mailer of await project.containers('mailer')) {
      const sent = (await project.logs(mailer.id)).split('\n').filter((line) => {
        if (!line.includes('"mail sent"')) return false
        try {
          const to = JSON.parse(line).to
          return wanted.has(String(Array.isArray(to) ? to[0] : to).toLowerCase())
        } catch {
          return false
        }
      }).length
      perMailer.push(`${mailer.name.replace(/^.*?mailer/, 'mailer')}=${sent}`)
    }
    const idle = perMailer.filter((m) => m.endsWith('=0'))
    if (lost || duplicated || idle.length) throw new Error(`lost ${lost}, duplicated ${duplicated}; sent per mailer: ${perMailer.join(' ')}`)
    return `300/300 delivered once; sent per mailer: ${perMailer.join(' ')}`
  })
  if (interrupted()) return

  await check('docker kill -s KILL one mailer mid-stream: nothing lost', async () => {
    const victim = await project.running('mailer')
    let killed
    const { lost, duplicated } = await batch('k', 150, async (accepted) => {
      if (accepted === 40 && !killed) killed = project.kill(victim.id)
    })
    await killed
    if (lost) throw new Error(`lost ${lost} of 150`)
    return `killed ${victim.name} after 40 of 150 accepted; 150/150 delivered, ${duplicated} duplicated`
  })
  if (interrupted()) return

  let session
  await check('avatar upload: stored in the object store, thumbnail made by the worker', async () => {
    const login = await request('POST', '/v1/sessions', { json: { login: solo.nickname, password: solo.password } })
    if (login.status !== 201) throw new Error(`login: ${login.status} ${login.text.slice(0, 200)}`)
    session = login.json().token
    const sharp = require('sharp')
    const png = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 80, b: 30 } } }).png().toBuffer()
    const form = new FormData()
    form.append('image', new Blob([png], { type: 'image/png' }), 'me.png')
    const upload = await request('PUT', `/v1/users/${solo.id}/avatar`, { body: form, headers: { authorization: `Bearer ${session}` } })
    if (upload.status !== 201) throw new Error(`upload: ${upload.status} ${upload.text.slice(0, 200)}`)
    const avatar = upload.json()
    const original = await request('GET', toPublic(avatar.url))
    if (original.status !== 200) throw new Error(`GET original: ${original.status}`)
    const started = performance.now()
    const sizes = Object.keys(avatar.thumbnails.urls)
    for (const size of sizes) {
      await waitFor(`the ${size} px thumbnail`, async () => (await request('GET', toPublic(avatar.thumbnails.urls[size]))).status === 200, 60_000)
    }
    return `original ${original.headers.get('content-type')}, ${png.length} B; thumbnails ${sizes.join(', ')} px after ${seconds(started)} s`
  })
  if (interrupted()) return

  await check('web console served by nginx: the page, its assets, the mail\'s /verify link opens it', async () => {
    const html = { accept: 'text/html' }
    const page = await request('GET', '/', { headers: html })
    if (page.status !== 200 || !page.text.includes('<div id="app">')) throw new Error(`GET / as a browser: ${page.status} ${page.text.slice(0, 120)}`)
    if (!/^default-src 'self'/.test(page.headers.get('content-security-policy') ?? '')) throw new Error(`CSP: ${page.headers.get('content-security-policy')}`)
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(page.text)?.[1]
    const script = await request('GET', asset ?? '/assets/none.js')
    if (script.status !== 200 || !/immutable/.test(script.headers.get('cache-control') ?? '')) throw new Error(`${asset}: ${script.status} ${script.headers.get('cache-control')}`)
    const verifyPage = await request('GET', '/verify?token=x', { headers: html })
    if (verifyPage.status !== 200 || verifyPage.text !== page.text) throw new Error(`GET /verify as a browser: ${verifyPage.status}`)
    const links = await request('GET', '/')
    if (links.status !== 200 || links.json().docs !== '/docs') throw new Error(`GET / as an API client: ${links.status} ${links.text.slice(0, 120)}`)
    return `/ and /verify -> index.html (${page.text.length} B), ${asset} immutable; GET / without text/html -> the api's JSON links`
  })
  if (interrupted()) return

  await check('your own events through nginx (SSE): registered -> relayed -> consumed -> SMTP accepted, with replicas', async () => {
    if (!session) throw new Error('no session (the avatar check failed)')
    const auth = { authorization: `Bearer ${session}` }
    let mailId
    const events = await readEvents(new URL('/v1/events', base), { ...auth, 'last-event-id': '0-0' }, (event) => {
      if (event.type === 'user.registered' && event.subject === `user:${solo.id}`) mailId = event.data.mailMessageId
      return event.type === 'mail.sent' && mailId !== undefined && event.data.messageId === mailId
    }, 30_000)
    const others = events.filter((e) => e.userId !== solo.id)
    if (others.length) throw new Error(`${others.length} events of other users in the stream`)
    const steps = ['user.registered', 'outbox.published', 'mail.consumed', 'mail.sent']
      .map((type) => events.find((e) => e.type === type && (type === 'user.registered' || e.data.messageId === mailId)))
    if (steps.some((e) => !e)) throw new Error(`steps missing: ${events.map((e) => e.type).join(', ')}`)
    return steps.map((e) => `${e.type} by ${e.replica}`).join(' -> ') + ` (${events.length} events of this user, none of others)`
  })
  if (interrupted()) return

  await check('admin: queue stats and the dead-letter CLI; 403 for a user', async () => {
    if (!session) throw new Error('no session (the avatar check failed)')
    const auth = { authorization: `Bearer ${session}` }
    const refused = await request('GET', '/v1/admin/queues', { headers: auth })
    if (refused.status !== 403) throw new Error(`GET /v1/admin/queues as a user: ${refused.status}`)
    await promote(project, solo.email)
    const queues = await request('GET', '/v1/admin/queues', { headers: auth })
    if (queues.status !== 200) throw new Error(`GET /v1/admin/queues as an admin: ${queues.status} ${queues.text.slice(0, 200)}`)
    const mail = queues.json().queues.find((q) => q.name === 'mail')
    if (!mail || mail.consumers < 2 || mail.unacked === null) throw new Error(`mail queue: ${JSON.stringify(mail)}`)
    const stats = await readEvents(new URL('/v1/admin/events', base), auth, (event) => event.type === 'queue.stats', 10_000)
    const replicas = stats[stats.length - 1].data.replicas.map((r) => r.replica)
    const listed = await dlq(project, ['list', 'mail'])
    // Reading a dead letter returns it to its queue: RabbitMQ 4 must not count that toward a delivery limit.
    const dlqInfo = await fetch(`http://127.0.0.1:${env.RABBITMQ_UI_PORT || 15672}/api/queues/socialnet/socialnet.mail.dlq`, { headers: { authorization: rabbitAuth }, signal: AbortSignal.timeout(5000) }).then((r) => r.json())
    if (dlqInfo.policy !== 'dead-letters-kept') throw new Error(`socialnet.mail.dlq policy: ${dlqInfo.policy}`)
    return `mail: ${mail.consumers} consumers, ${mail.ready} ready, ${mail.unacked} unacked, ${mail.dlq} dead; queue.stats over SSE names ${replicas.length} replicas; dlq list mail: ${listed.split('\n')[0] || '(empty)'}; socialnet.mail.dlq under policy ${dlqInfo.policy}`
  })
  if (interrupted()) return

  await check('bounce: a DSN to the welcome mail\'s VERP Return-Path suppresses the address (hard_bounce); a forged tag is refused; the next mail is not sent', async () => {
    const bouncePort = Number(env.BOUNCE_SMTP_PUBLISH || 2525)
    // An admin session to read the delivery log and the suppression list (solo, promoted with the admin CLI).
    await promote(project, solo.email)
    const adminLogin = await request('POST', '/v1/sessions', { json: { login: solo.nickname, password: solo.password } })
    if (adminLogin.status !== 201) throw new Error(`admin login: ${adminLogin.status} ${adminLogin.text.slice(0, 200)}`)
    const admin = { authorization: `Bearer ${adminLogin.json().token}` }
    const mailLog = async (address) => {
      const r = await request('GET', `/v1/admin/mail?to=${encodeURIComponent(address)}`, { headers: admin })
      if (r.status !== 200) throw new Error(`GET /v1/admin/mail?to=: ${r.status} ${r.text.slice(0, 200)}`)
      return r.json()
    }

    const user = await register('bounce')
    const address = user.email ?? `ct-${runId}-bounce@example.com`
    const key = address.toLowerCase()
    const welcome = await waitFor('the welcome mail', async () => (await inbox.list()).find((m) => m.to.includes(key)), 60_000)
    const returnPath = await inbox.returnPath(welcome.id)
    const verp = new RegExp(`^${(env.BOUNCE_LOCAL || 'bounces').replace(/[.]/g, '\\.')}\\+([A-Za-z0-9_-]+)\\.([0-9a-f]{20})@${env.BOUNCE_DOMAIN.replace(/[.]/g, '\\.')}$`, 'i').exec(returnPath ?? '')
    if (!verp) throw new Error(`the welcome mail's Return-Path is not a VERP address at ${env.BOUNCE_DOMAIN}: ${returnPath}`)
    const [, messageId, tag] = verp
    // The receiver acts on the recipient the delivery log names for the message: wait for the `sent` row.
    await waitFor(`the delivery log's sent row of ${messageId}`, async () => {
      const log = await mailLog(key)
      if (!log.attempts.some((a) => a.messageId === messageId && a.outcome === 'sent')) throw new Error(`attempts: ${log.attempts.map((a) => `${a.messageId} ${a.outcome}`).join(', ') || 'none'}`)
      return true
    }, 30_000)
    const report = deliveryStatusReport({ returnPath, recipient: address, subject: welcome.subject })

    // A forged report: the same address with a tag that does not verify is refused at RCPT TO.
    const wrongTag = [...tag].map((c, i) => (i === 0 ? (c === '0' ? '1' : '0') : c)).join('')
    const forgedTo = returnPath.replace(tag, wrongTag)
    const forged = await smtpSend({ port: bouncePort, to: forgedTo, message: report })
    if (forged.rcpt[0].code !== 550 || forged.data) throw new Error(`forged tag: RCPT ${forged.rcpt[0].code} ${forged.rcpt[0].text}; DATA ${forged.data ? `${forged.data.code} ${forged.data.text}` : 'not sent'}`)
    await sleep(1000)
    const afterForged = await mailLog(key)
    if (afterForged.suppression) throw new Error(`suppressed after the forged report: ${JSON.stringify(afterForged.suppression)}`)

    // The genuine report, from the null sender as an MTA sends DSNs.
    const genuine = await smtpSend({ port: bouncePort, to: returnPath, message: report })
    if (genuine.rcpt[0].code !== 250) throw new Error(`RCPT TO:<${returnPath}>: ${genuine.rcpt[0].code} ${genuine.rcpt[0].text}`)
    if (genuine.data?.code !== 250) throw new Error(`DATA: ${genuine.data ? `${genuine.data.code} ${genuine.data.text}` : 'not sent'}`)
    const suppressed = await waitFor('the suppression', async () => {
      const log = await mailLog(key)
      if (!log.suppression) throw new Error('not suppressed')
      return log
    }, 15_000, 500)
    if (suppressed.suppression.reason !== 'hard_bounce') throw new Error(`suppression reason ${suppressed.suppression.reason}: ${JSON.stringify(suppressed.suppression)}`)
    const listed = await request('GET', '/v1/admin/suppressions?limit=100', { headers: admin })
    if (listed.status !== 200) throw new Error(`GET /v1/admin/suppressions: ${listed.status} ${listed.text.slice(0, 200)}`)
    const entry = listed.json().suppressions.find((s) => s.address === key)
    if (!entry || entry.reason !== 'hard_bounce') throw new Error(`GET /v1/admin/suppressions: ${key} ${entry ? `listed as ${entry.reason}` : 'not listed'}`)
    const bounced = suppressed.attempts.find((a) => a.messageId === messageId && a.outcome === 'bounced')
    if (!bounced) throw new Error(`no bounced row in the delivery log: ${suppressed.attempts.map((a) => a.outcome).join(', ')}`)

    // The next mail to the address: accepted by the api, then not sent by the mailer.
    const login = await request('POST', '/v1/sessions', { json: { login: user.nickname ?? `ct${runId}xbounce`, password: user.password } })
    if (login.status !== 201) throw new Error(`login as ${address}: ${login.status} ${login.text.slice(0, 200)}`)
    const resend = await request('POST', '/v1/users/me/verification', { headers: { authorization: `Bearer ${login.json().token}` } })
    if (resend.status !== 202) throw new Error(`POST /v1/users/me/verification: ${resend.status} ${resend.text.slice(0, 200)}`)
    const skipped = await waitFor('the suppressed row of the second mail', async () => {
      const log = await mailLog(key)
      const row = log.attempts.find((a) => a.messageId !== messageId && a.outcome !== 'throttled')
      if (!row) throw new Error(`attempts: ${log.attempts.map((a) => `${a.outcome}`).join(', ')}`)
      return row
    }, 60_000)
    if (skipped.outcome !== 'suppressed' || skipped.smtpReply !== 'suppressed (hard_bounce)') throw new Error(`the second mail: ${skipped.outcome} (${skipped.smtpReply})`)
    await sleep(2000)
    const delivered = (await inbox.countsFor([key])).get(key)
    if (delivered !== 1) throw new Error(`${delivered} mails in the inbox for ${key}, expected the welcome mail alone`)
    return `Return-Path ${returnPath.replace(tag, '<tag>')}; forged tag: RCPT ${forged.rcpt[0].code} ${forged.rcpt[0].text.split(' ')[0]}, nothing suppressed; ` +
      `DSN: RCPT ${genuine.rcpt[0].code}, DATA ${genuine.data.code} -> ${key} suppressed (${entry.reason}, source ${entry.source}), delivery log bounced ${bounced.smtpCode ?? ''}; ` +
      `resend 202 -> ${skipped.outcome} "${skipped.smtpReply}", inbox still 1 mail`
  })
  if (interrupted()) return

  let kvAuth = {}
  await check('KV PUT on one api replica, read back through nginx', async () => {
    const apis = await project.containers('api')
    kvAuth = await kvApiKey(project)
    const key = `compose-${runId}`
    const put = await project.exec(apis[0].id, ['node', '-e', `fetch('http://127.0.0.1:3000/v1/key/${key}', { method: 'PUT', body: 'written on one replica', headers: ${JSON.stringify(kvAuth)} }).then((r) => console.log(r.status))`])
    if (put.trim() !== '201') throw new Error(`PUT on ${apis[0].name}: ${put.trim()}`)
    for (let i = 0; i < 6; i++) {
      const got = await request('GET', `/v1/key/${key}`, { headers: kvAuth })
      if (got.status !== 200 || got.text !== 'written on one replica') throw new Error(`GET #${i + 1} through nginx: ${got.status} ${got.text.slice(0, 100)}`)
    }
    return `PUT on ${apis[0].name}, 6 GETs through nginx answered it`
  })
  if (interrupted()) return

  await check('docker compose restart api under load: no failed request', async () => {
    let stop = false
    let sent = 0
    const failures = []
    const key = `restart-${runId}`
    await request('PUT', `/v1/key/${key}`, { body: 'v', headers: kvAuth })
    const loop = async (n) => {
      while (!stop) {
        const t = performance.now()
        const [method, path, options] = n % 3 === 0
          ? ['PUT', `/v1/key/${key}-${n}`, { body: String(sent), headers: kvAuth }]
          : n % 3 === 1 ? ['GET', `/v1/key/${key}`, { headers: kvAuth }] : ['GET', `/v1/users/${solo.id}`, {}]
        sent++
        try {
          const r = await request(method, path, options)
          if (r.status >= 300) failures.push(`${method} ${r.status} ${r.text.slice(0, 80)}`)
        } catch (err) {
          failures.push(`${method} ${err.message}`)
        }
        await sleep(Math.max(0, 200 - (performance.now() - t))) // 5 requests/s per client
      }
    }
    const clients = Array.from({ length: 6 }, (_, n) => loop(n))
    await sleep(2000)
    const started = performance.now()
    await project.compose(['restart', 'api'], { timeoutMs: 120_000 })
    await waitFor('both api replicas healthy again', async () => {
      const states = await Promise.all((await project.containers('api')).map((c) => project.state(c.id)))
      return states.every((s) => s.health === 'healthy')
    }, 120_000)
    const restartSeconds = seconds(started)
    await sleep(2000)
    stop = true
    await Promise.all(clients)
    if (failures.length) throw new Error(`${failures.length} of ${sent} requests failed: ${[...new Set(failures)].slice(0, 3).join('; ')}`)
    return `${sent} requests, 0 failed; restart to healthy in ${restartSeconds} s`
  })
  if (interrupted()) return

  await check('RabbitMQ users: the mailer cannot publish to the jobs queue', async () => {
    const mailer = await project.running('mailer')
    const outcome = await publishAs(project, mailer.id)
    const refused = Object.entries(outcome).filter(([, result]) => result.startsWith('refused'))
    if (refused.length !== Object.keys(outcome).length) throw new Error(`mailer publish: ${JSON.stringify(outcome)}`)
    return Object.entries(outcome).map(([route, result]) => `${route}: ${result}`).join('; ')
  })
}

module.exports = { scenario }
