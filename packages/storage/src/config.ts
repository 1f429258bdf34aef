import { Type, type Static } from '@sinclair/typebox'
import { ConfigError } from '@socialnet/config'
import { LocalStorage } from './local'
import type { ObjectStorage } from './storage'

/**
 * The storage variables (the README's Configuration table), as TypeBox properties each app spreads
 * into its own env schema, so api and worker read them the same way.
 */
export const StorageEnv = {
  STORAGE: Type.Union([Type.Literal('local'), Type.Literal('s3')], { default: 'local' }),
  STORAGE_DIR: Type.String({ minLength: 1, default: './data/images' }),
  S3_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://' })),
  S3_REGION: Type.String({ minLength: 1, default: 'us-east-1' }),
  S3_BUCKET: Type.Optional(Type.String({ minLength: 3, maxLength: 63 })),
  S3_ACCESS_KEY: Type.Optional(Type.String({ minLength: 1 })),
  S3_SECRET_KEY: Type.Optional(Type.String({ minLength: 1 }))
}

export const StorageConfigSchema = Type.Object(StorageEnv)
export type StorageConfig = Static<typeof StorageConfigSchema>

/** Cross-field rules the schema cannot say; throws ConfigError with one line. */
export function validateStorageConfig(config: StorageConfig): void {
  if (config.STORAGE !== 's3') return
  if (!config.S3_BUCKET) throw new ConfigError('invalid environment: STORAGE=s3 needs S3_BUCKET')
  if (Boolean(config.S3_ACCESS_KEY) !== Boolean(config.S3_SECRET_KEY)) {
    throw new ConfigError('invalid environment: S3_ACCESS_KEY and S3_SECRET_KEY must be set together')
  }
}

/** Opens the driver STORAGE selects. */
export function createStorage(config: StorageConfig): ObjectStorage {
  validateStorageConfig(config)
  if (config.STORAGE === 'local') return new LocalStorage(config.STORAGE_DIR)
  // Loaded only here: the AWS SDK takes about half a second to load, which a process on
  // local storage (or one that only validates its environment and exits) should not pay.

  const { S3Storage } = require('./s3') as typeof import('./s3')
  return new S3Storage({
    bucket: config.S3_BUCKET!,
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    accessKeyId: config.S3_ACCESS_KEY,
    secretAccessKey: config.S3_SECRET_KEY
  })
}
