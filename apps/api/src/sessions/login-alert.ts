import type { Pool } from 'pg'
import { enqueueMessage } from '../outbox/enqueue'

/**
 * Queues (through the outbox, like every mail) a note to an account's owner
 * that their account saw `failures` wrong passwords today: they still log in
 * as usual (only the strangers' addresses are blocked), and learn that
 * someone is guessing. Only to a verified address: an unverified one may not
 * be the account holder's, and the notice must not become a way to mail them.
 */
export async function queueLoginAlert(db: Pool, user: { id: string; email: string; nickname: string }, failures: number): Promise<void> {
  const client = await db.connect()
  try {
    await enqueueMessage(client, 'mail.send.v1', {
      to: user.email,
      subject: 'Failed log-ins to your account',
      text: [
        `Hello ${user.nickname},`,
        '',
        `someone has tried to log in to your account with a wrong password ${failures} times in the last 24 hours.`,
        'The addresses they tried from are blocked for a while; you can still log in as usual.',
        '',
        'If that was not you, nothing has been let in, but choosing a long password you use nowhere else keeps it that way.'
      ].join('\n')
    }, { userId: user.id })
  } finally {
    client.release()
  }
}
