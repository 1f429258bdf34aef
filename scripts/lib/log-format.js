// @ts-check
'use strict'
const { prettyFactory } = require('pino-pretty')

/**
 * How `npm start` and `npm run stack` show their children's log lines:
 * readable by default (pino-pretty: time, level, message, then the fields),
 * the raw JSON lines with `LOG_FORMAT=json` (for piping into jq or a collector).
 * The process group still puts each process's name in front of every line.
 * Lines that are not JSON (a stack trace, maildev's banner) pass unchanged.
 * @param {NodeJS.ProcessEnv} env
 * @returns {((line: string) => string) | undefined}
 */
function logLineFormat(env = process.env) {
  const format = env.LOG_FORMAT ?? 'pretty'
  if (format === 'json') return undefined
  if (format !== 'pretty') throw new Error(`LOG_FORMAT must be pretty or json, not ${JSON.stringify(format)}`)
  const pretty = prettyFactory({
    colorize: Boolean(process.stdout.isTTY),
    translateTime: 'SYS:HH:MM:ss.l',
    // The prefix already names the process (and replica); pid and hostname say nothing more there.
    ignore: 'pid,hostname,service,replica',
    singleLine: true
  })
  return (line) => {
    if (!line.startsWith('{')) return line
    try {
      return pretty(JSON.parse(line)).replace(/\n$/, '')
    } catch {
      return line
    }
  }
}

module.exports = { logLineFormat }
