import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { loadConfigOrExit, loggerOptions } from '@socialnet/config'
import { loadBouncesConfig } from './config'
import { startBouncesService, type BouncesService } from './service'

/**
 * Entry point: validate env, start the bounce receiver, and on SIGTERM/SIGINT
 * stop taking connections, let the sessions in progress finish, close
 * everything and exit 0.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit('bounces', () => loadBouncesConfig())
  const log = pino(loggerOptions('bounces', config.LOG_LEVEL))
  let service: BouncesService | undefined
  // Installed before connecting: a SIGTERM while Postgres is still down finds nothing
  // started and exits 0 at once. Open SMTP sessions get SHUTDOWN_GRACE_MS; the extra
  // 5 s cover closing the event channel, the broker connection and Postgres.
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS + 5000 }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an uncaught error')
    else log.info({ signal }, 'shutting down gracefully')
    await service?.close()
  })
  service = await startBouncesService(config, log)
}

main().catch((err: Error) => {
  process.stderr.write(`bounces: failed to start: ${err.message}\n`)
  process.exit(1)
})
