import pino from 'pino'
import closeWithGrace from 'close-with-grace'
import { loadConfigOrExit, loggerOptions } from '@socialnet/config'
import { loadWorkerConfig } from './config'
import { startWorker, type Worker } from './worker'

/** Entry point: validate env, start consuming, and stop gracefully on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('worker', () => loadWorkerConfig())
  const log = pino(loggerOptions('worker', config.LOG_LEVEL))
  let worker: Worker | undefined
  // A second signal or the deadline exits at once; otherwise messages in
  // hand finish (or return to the queue when the grace runs out). The extra
  // 5 s cover closing channels (<= 1 s each), the publisher's last confirms,
  // the connection (<= 2 s even if the broker stopped answering), Redis and
  // Postgres before close-with-grace would exit 1.
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS + 5000 }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an uncaught error')
    else log.info({ signal }, 'shutting down gracefully')
    await worker?.stop(config.SHUTDOWN_GRACE_MS)
  })
  worker = await startWorker(config, log)
}

main().catch((err: Error) => {
  process.stderr.write(`worker: failed to start: ${err.message}\n`)
  process.exit(1)
})
