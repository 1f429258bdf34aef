export { loadConfig, ConfigError } from './load-config'
export { loggerOptions, LogLevel } from './logger'
