/** The shared local services every test and benchmark talks to; each can be pointed elsewhere. */
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
/** A superuser connection on the maintenance database: creates and drops the test databases. */
export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
/** RabbitMQ's management plugin (port 15672), as the broker's administrator. */
export const RABBITMQ_MANAGEMENT_URL = process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672'
/**
 * How long a test helper waits for any one answer from these services (a connection, a
 * handshake, a query, a management API request) before it fails naming the service. Under
 * Jest's 60 s per test, so a wedged service shows up as itself rather than as a Jest timeout,
 * and far above a healthy answer even on a 2-core machine under a load of 25 (a few seconds).
 */
export const SERVICE_TIMEOUT_MS = Number(process.env.TEST_SERVICE_TIMEOUT_MS ?? 30_000)
