import envSchema from 'env-schema'
import type { Static, TObject } from '@sinclair/typebox'

/** Raised when the environment does not satisfy an app's schema; the message is one readable line. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID'
}

/**
 * `format: 'uri'` on a URL variable: node's URL parser must accept it. A
 * pattern like `^https?://` alone lets `http://` or `http://a b` through,
 * and those would then fail on every request or message instead of once here.
 */
function isUrl(value: string): boolean {
  return URL.canParse(value)
}

/**
 * Validates `env` (default `process.env`) once against a TypeBox schema, applying
 * defaults and coercing numbers/booleans. Every app calls this exactly once at start.
 */
export function loadConfig<T extends TObject>(schema: T, env: NodeJS.ProcessEnv = process.env): Static<T> {
  try {
    return envSchema<Static<T>>({ schema, data: env, dotenv: false, ajv: { customOptions: (ajv) => ajv.addFormat('uri', isUrl) } })
  } catch (err) {
    const message = (err as Error).message.replace(/\s+/g, ' ')
    throw new ConfigError(`invalid environment: ${message}`)
  }
}

/**
 * The start of every app's entry point: runs its config loader and, on a bad
 * environment, prints the one-line reason prefixed with the service name and
 * exits 1, instead of a stack trace.
 */
export function loadConfigOrExit<T>(service: string, load: () => T): T {
  try {
    return load()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`${service}: ${err.message}\n`)
    process.exit(1)
  }
}
