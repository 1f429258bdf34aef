export { assertValidKey, InvalidKeyError, type ObjectStorage, type PutResult, type StoredObject } from './storage'
export { LocalStorage } from './local'
// A type only: the class (and the AWS SDK under it) loads when createStorage picks S3.
export type { S3Storage, S3StorageOptions } from './s3'
export { StorageEnv, createStorage, validateStorageConfig, type StorageConfig } from './config'
export { THUMBNAIL_SIZES, originalKey, thumbnailKey, allImageKeys } from './image-keys'
