export { loadConfig, loadConfigOrExit, ConfigError } from './load-config'
export { loggerOptions, LogLevel } from './logger'
