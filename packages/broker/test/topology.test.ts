import { brokerConfig, BrokerConfigError, declareTopology, parseRetryDelays, topology, DEFAULT_RETRY_DELAYS_MS } from '../src'
import { randomPrefix, rawConnection, removeTopology } from './harness'

describe('broker config and topology', () => {
  it('reads AMQP_URL, AMQP_PREFIX and the retry delays, with the documented defaults', () => {
    expect(brokerConfig({})).toEqual({ url: 'amqp://guest:guest@127.0.0.1:5672', prefix: '', retryDelaysMs: DEFAULT_RETRY_DELAYS_MS })
    expect(brokerConfig({ AMQP_URL: 'amqps://u:p@mq:5671/vh', AMQP_PREFIX: 'ci.', AMQP_RETRY_DELAYS_MS: '100, 1000' })).toEqual({
      url: 'amqps://u:p@mq:5671/vh',
      prefix: 'ci.',
      retryDelaysMs: [100, 1000]
    })
  })

  it('refuses settings that would break the topology, with one clear line', () => {
    expect(() => brokerConfig({ AMQP_URL: 'http://mq' })).toThrow(BrokerConfigError)
    expect(() => brokerConfig({ AMQP_PREFIX: 'a b' })).toThrow(/AMQP_PREFIX/)
    expect(() => parseRetryDelays('1000,500')).toThrow(/ascending/)
    expect(() => parseRetryDelays('1000,x')).toThrow(/AMQP_RETRY_DELAYS_MS/)
  })

  it('names the mail queue with "mail" in it and every dead-letter queue <work queue>.dlq', () => {
    const names = topology({ prefix: 'p.', retryDelaysMs: [100, 1000] })
    expect(names.queues.mail.name).toBe('p.socialnet.mail')
    expect(names.queues.mail.dlq).toBe('p.socialnet.mail.dlq')
    expect(names.queues.jobs.dlq).toBe('p.socialnet.jobs.dlq')
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
