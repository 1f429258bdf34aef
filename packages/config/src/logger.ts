import { hostname } from 'node:os'
import { Type } from '@sinclair/typebox'
import type { LoggerOptions } from 'pino'

/** LOG_LEVEL in an app's env schema: pino's levels, default info. */
export const LogLevel = Type.Union(
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
  { default: 'info' }
)

/**
 * The one pino setup every app uses: JSON lines, ISO timestamps, the service
 * and replica name on every line (which of three mailers sent a mail shows in
 * the line itself, not only in a supervisor's prefix), and credentials
 * redacted wherever they appear. The replica is `REPLICA_ID`, default the hostname.
 */
export function loggerOptions(service: string, level = 'info', replica = process.env.REPLICA_ID || hostname()): LoggerOptions {
  return {
    level,
    base: { service, replica },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'password',
        '*.password',
        'config.AMQP_URL',
        'config.DATABASE_URL',
        'config.SMTP_URL',
        'config.S3_SECRET_KEY'
      ],
      censor: '[redacted]'
    }
  }
}
