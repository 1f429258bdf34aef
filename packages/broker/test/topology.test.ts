import { BrokerConfigError, declareTopology, parseRetryDelays, topology, DEFAULT_RETRY_DELAYS_MS } from '../src'
import { randomPrefix, rawConnection, removeTopology } from './harness'

describe('broker config and topology', () => {
  it('parses the retry delays, empty meaning the documented defaults', () => {
    expect(parseRetryDelays('')).toEqual(DEFAULT_RETRY_DELAYS_MS)
    expect(parseRetryDelays('100, 1000')).toEqual([100, 1000])
  })

  it('refuses retry delays that would break the topology, with one clear line', () => {
    expect(() => parseRetryDelays('1000,500')).toThrow(BrokerConfigError)
    expect(() => parseRetryDelays('1000,500')).toThrow(/ascending/)
    expect(() => parseRetryDelays('1000,x')).toThrow(/AMQP_RETRY_DELAYS_MS/)
  })

  it('names the mail queue with "mail" in it and every dead-letter queue <work queue>.dlq', () => {
    const names = topology({ prefix: 'p.', retryDelaysMs: [100, 1000] })
    expect(names.queues.mail.name).toBe('p.socialnet.mail')
    expect(names.queues.mail.dlq).toBe('p.socialnet.mail.dlq')
    expect(names.queues.jobs.dlq).toBe('p.socialnet.jobs.dlq')
    // Per family, so a broker user can be given its own family and nothing else.
    expect(names.queues.mail.deadLetterExchange).toBe('p.socialnet.mail.dlx')
    expect(names.queues.thumbnails.retries.map((r) => r.name)).toEqual(['p.socialnet.thumbnails.retry.100ms', 'p.socialnet.thumbnails.retry.1000ms'])
  })

  it('declares idempotently, so every service and every reconnect can declare it again', async () => {
    const raw = await rawConnection()
    const names = topology({ prefix: randomPrefix(), retryDelaysMs: [100] })
    const channel = await raw.createChannel()
    await declareTopology(channel, names)
    await declareTopology(channel, names)
    const mail = await channel.checkQueue(names.queues.mail.name)
    expect(mail.queue).toBe(names.queues.mail.name)
    await channel.close()
    await removeTopology(raw, names)
    await raw.close()
  })
})
