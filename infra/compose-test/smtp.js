'use strict'
/**
 * A small SMTP client for the compose test, on a plain socket: one message to one server,
 * with every reply kept, so a refusal shows where it happened (a 550 at RCPT is not a 550 at
 * DATA). No TLS, no AUTH: it talks to the bounce receiver the way a remote MTA's DSN does.
 */
const { connect } = require('node:net')

/** Reads SMTP replies (multi-line ones joined) off `socket`; `next()` resolves with the next `{ code, text }`. */
function replyReader(socket, timeoutMs) {
  const ready = []
  const waiting = []
  let lines = []
  let buffered = ''
  let failure
  const fail = (err) => {
    failure ??= err
    for (const w of waiting.splice(0)) w.reject(failure)
  }
  socket.on('data', (chunk) => {
    buffered += chunk.toString('utf8')
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl).replace(/\r$/, '')
      buffered = buffered.slice(nl + 1)
      lines.push(line)
      if (!/^\d{3}(?: |$)/.test(line)) continue // "250-..." continues, "250 ..." ends a reply
      const reply = { code: Number(line.slice(0, 3)), text: lines.map((l) => l.slice(4)).join(' ').trim() }
      lines = []
      const w = waiting.shift()
      if (w) w.resolve(reply)
      else ready.push(reply)
    }
  })
  socket.on('error', fail)
  socket.on('close', () => fail(new Error('the server closed the connection')))
  return () => {
    if (ready.length) return Promise.resolve(ready.shift())
    if (failure) return Promise.reject(failure)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SMTP reply within ${timeoutMs / 1000} s`)), timeoutMs)
      waiting.push({ resolve: (r) => { clearTimeout(timer); resolve(r) }, reject: (e) => { clearTimeout(timer); reject(e) } })
    })
  }
}

/**
 * One SMTP transaction: EHLO, MAIL FROM:<from> (empty for a DSN's null sender), RCPT TO for
 * each of `to`, and DATA with `message` only when a recipient was accepted. Answers every
 * reply: `{ greeting, ehlo, mail, rcpt: [{ to, code, text }], data }` (data undefined when
 * no recipient was taken). Rejects only when the conversation itself broke.
 */
async function smtpSend({ host = '127.0.0.1', port, helo = 'compose-test.invalid', from = '', to, message, timeoutMs = 15_000 }) {
  const socket = connect({ host, port })
  const next = replyReader(socket, timeoutMs)
  const say = (line) => {
    socket.write(`${line}\r\n`)
    return next()
  }
  try {
    const greeting = await next()
    if (greeting.code !== 220) throw new Error(`greeting: ${greeting.code} ${greeting.text}`)
    const ehlo = await say(`EHLO ${helo}`)
    if (ehlo.code !== 250) throw new Error(`EHLO: ${ehlo.code} ${ehlo.text}`)
    const mail = await say(`MAIL FROM:<${from}>`)
    if (mail.code !== 250) return { greeting, ehlo, mail, rcpt: [], data: undefined }
    const rcpt = []
    for (const address of [to].flat()) rcpt.push({ to: address, ...(await say(`RCPT TO:<${address}>`)) })
    let data
    if (rcpt.some((r) => r.code === 250 || r.code === 251)) {
      const go = await say('DATA')
      if (go.code !== 354) data = go
      else {
        // CRLF line ends and dot-stuffing (RFC 5321 4.5.2), then the end-of-data line.
        const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')
        data = await say(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.`)
      }
    }
    await say('QUIT').catch(() => {})
    return { greeting, ehlo, mail, rcpt, data }
  } finally {
    socket.destroy()
  }
}

module.exports = { smtpSend }
