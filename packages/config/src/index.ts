export { loadConfig, ConfigError } from './load-config'
export { loggerOptions } from './logger'
