// @ts-check
'use strict'

/**
 * Polls `url` until it answers 200. Gives up when the deadline passes or when
 * `gaveUp()` says the process behind it is gone (no point waiting for a corpse).
 * @param {string} url
 * @param {{ timeoutMs?: number, gaveUp?: () => string | undefined }} [opts]
 */
async function waitForHttp200(url, opts = {}) {
  const deadline = Date.now() + (opts.timeoutMs ?? 60000)
  let last = 'no answer'
  for (;;) {
    const reason = opts.gaveUp?.()
    if (reason) throw new Error(`${url}: ${reason}`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
      await res.arrayBuffer()
      if (res.status === 200) return
      last = `status ${res.status}`
    } catch (err) {
      last = /** @type {Error} */ (err).message
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready in time (${last})`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

module.exports = { waitForHttp200 }
