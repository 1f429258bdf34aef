import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { loadConfigOrExit, loggerOptions } from '@socialnet/config'
import { loadMailerConfig } from './config'
import { startMailerService, type MailerService } from './service'

/**
 * Entry point: validate env, start the mailer, and on SIGTERM/SIGINT stop
 * consuming, finish the mails in flight, close everything and exit 0.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit('mailer', () => loadMailerConfig())
  const log = pino(loggerOptions('mailer', config.LOG_LEVEL))
  let service: MailerService | undefined
  // Installed before connecting: a SIGTERM while RabbitMQ is still down finds
  // nothing started and exits 0 at once. Otherwise the mails in flight get
  // SHUTDOWN_GRACE_MS; the extra 5 s cover closing the channel (<= 1 s), the
  // connection (<= 2 s, bounded even if the broker stopped answering), SMTP
  // and Postgres before close-with-grace would exit 1.
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS + 5000 }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an uncaught error')
    else log.info({ signal }, 'shutting down gracefully')
    await service?.close(config.SHUTDOWN_GRACE_MS)
  })
  service = await startMailerService(config, log)
}

main().catch((err: Error) => {
  process.stderr.write(`mailer: failed to start: ${err.message}\n`)
  process.exit(1)
})
