import { randomUUID } from 'node:crypto'
import type { PoolClient } from 'pg'

/** A message to publish once the caller's transaction commits. */
export interface OutboxMessage {
  type: string
  routingKey: string
  payload: unknown
}

/**
 * Adds a message to the outbox on `client`, which must be inside the
 * transaction of the change the message announces: both commit or neither
 * does. The insert's trigger NOTIFYs the relays at commit. Returns the
 * messageId the message will carry on the broker.
 */
export async function enqueueMessage(client: PoolClient, message: OutboxMessage): Promise<string> {
  const messageId = randomUUID()
  await client.query(
    'INSERT INTO outbox (message_id, type, routing_key, payload) VALUES ($1, $2, $3, $4)',
    [messageId, message.type, message.routingKey, JSON.stringify(message.payload)]
  )
  return messageId
}
