export { assertValidKey, InvalidKeyError, type ObjectStorage, type PutResult, type StoredObject } from './storage'
export { LocalStorage } from './local'
export { S3Storage, type S3StorageOptions } from './s3'
export { StorageEnv, createStorage, validateStorageConfig, type StorageConfig } from './config'
