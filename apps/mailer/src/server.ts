import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { ConfigError, loggerOptions } from '@socialnet/config'
import { loadMailerConfig, type MailerConfig } from './config'
import { startMailerService, type MailerService } from './service'

/**
 * Entry point: validate env, start the mailer, and on SIGTERM/SIGINT stop
 * consuming, finish the mails in flight, close everything and exit 0.
 */
async function main(): Promise<void> {
  let config: MailerConfig
  try {
    config = loadMailerConfig()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`mailer: ${err.message}\n`)
    process.exit(1)
  }
  const log = pino(loggerOptions('mailer', config.LOG_LEVEL))
  let service: MailerService | undefined
  let stopping = false
  // Installed before connecting, so a SIGTERM while RabbitMQ is still down
  // exits cleanly too. The grace for in-flight mails is a bit shorter than
  // close-with-grace's own deadline, which leaves time to close connections.
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS + 2000 }, async ({ signal, err }) => {
    stopping = true
    if (err) log.error({ err }, 'shutting down after an uncaught error')
    else log.info({ signal }, 'shutting down gracefully')
    await service?.close(config.SHUTDOWN_GRACE_MS)
  })
  service = await startMailerService(config, log)
  if (stopping) await service.close(config.SHUTDOWN_GRACE_MS)
}

main().catch((err: Error) => {
  process.stderr.write(`mailer: failed to start: ${err.message}\n`)
  process.exit(1)
})
