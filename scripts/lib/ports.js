// @ts-check
'use strict'
const net = require('node:net')

/**
 * The ports of `wanted` that something already listens on, found by trying to
 * listen on each (and letting go at once). Checked before starting anything:
 * a second `npm start` would otherwise take the first one's api for its own.
 * @param {{ name: string, port: number, host?: string }[]} wanted
 * @returns {Promise<{ name: string, port: number, host?: string, reason: string }[]>}
 */
async function takenPorts(wanted) {
  const taken = []
  for (const w of wanted) {
    const reason = await new Promise((resolve) => {
      const server = net.createServer()
      server.once('error', (err) => resolve(/** @type {NodeJS.ErrnoException} */ (err).code ?? err.message))
      server.listen({ port: w.port, host: w.host, exclusive: true }, () => server.close(() => resolve(undefined)))
    })
    if (reason) taken.push({ ...w, reason })
  }
  return taken
}

module.exports = { takenPorts }
