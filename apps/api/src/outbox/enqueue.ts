import { randomUUID } from 'node:crypto'
import type { PoolClient } from 'pg'
import { validateMessage, type MessagePayload, type MessageType } from '@socialnet/contracts'

/**
 * Adds a message to the outbox on `client`, which must be inside the
 * transaction of the change the message announces: both commit or neither
 * does. The insert's trigger NOTIFYs the relays at commit. The payload is
 * checked against its contract here, so a malformed message fails the request
 * that made it instead of reaching the queue. The routing key is the type (the
 * broker's topic bindings route on it). `userId` is the user the message
 * belongs to: it travels as the `x-user-id` header so the consumer's events
 * reach that user's own event stream. Returns the message's AMQP messageId.
 */
export async function enqueueMessage<T extends MessageType>(
  client: PoolClient, type: T, payload: MessagePayload<T>, opts: { userId?: string } = {}
): Promise<string> {
  validateMessage(type, payload)
  const messageId = randomUUID()
  await client.query(
    'INSERT INTO outbox (message_id, type, routing_key, payload, user_id) VALUES ($1, $2, $2, $3, $4)',
    [messageId, type, JSON.stringify(payload), opts.userId ?? null]
  )
  return messageId
}
