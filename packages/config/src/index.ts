export { loadConfig, loadConfigOrExit, ConfigError } from './load-config'
export { loggerOptions, LogLevel } from './logger'
export { ServiceEnv, RedisEnv } from './env-blocks'
