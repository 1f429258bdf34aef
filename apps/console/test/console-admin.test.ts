import { randomBytes } from 'node:crypto'
import type { Browser } from 'playwright-core'
import { launchBrowser, newPage, screenshot } from './browser'
import { logIn, register } from './scenario'
import { startStack, type Stack } from './stack/stack'

// The admin's scenario stops one of the two mailers: a stack of its own, so no other scenario
// depends on running before or after it.
describe('the web console in a real browser: the admin pages', () => {
  let stack: Stack
  let browser: Browser
  const tag = randomBytes(3).toString('hex')

  beforeAll(async () => {
    // Both start at once; if one fails, the other is kept so afterAll still stops it.
    const [started, launched] = await Promise.allSettled([startStack(), launchBrowser()])
    if (started.status === 'fulfilled') stack = started.value
    if (launched.status === 'fulfilled') browser = launched.value
    for (const result of [started, launched]) if (result.status === 'rejected') throw result.reason
  })

  afterAll(async () => {
    await browser?.close()
    await stack?.stop()
  })

  test('an admin watches the mail queue lose a consumer, then replays a dead-lettered mail', async () => {
    const email = `root-${tag}@example.com`
    await register(stack, `root_${tag}`, email)
    await stack.promote(email)
    const { page, errors } = await newPage(browser)

    await page.goto(`${stack.url}/login?next=/admin`)
    await logIn(page, email, 'Admin')
    const consumers = (n: number) => page.locator('tr[data-queue="mail"] td[data-column="consumers"]', { hasText: new RegExp(`^${n}$`) })
    await consumers(2).waitFor()
    // Replicas seen in the last minute come with the admin stream's queue.stats: at least the api that
    // registered this admin and the mailer that sent their welcome mail.
    const replicas = page.getByRole('table', { name: 'Replicas seen in the last minute' })
    await replicas.getByRole('cell', { name: 'api-1', exact: true }).waitFor()
    await replicas.getByRole('cell', { name: /^mailer-[12]$/ }).first().waitFor()
    await screenshot(page, '08-admin')

    expect(await stack.mailers[1]!.stop()).toBe(0)
    expect(await stack.mailConsumers()).toBe(1)
    await consumers(1).waitFor()
    await screenshot(page, '09-admin-one-mailer')

    // A mail the SMTP server refuses for good is dead-lettered at once; once the address works, Replay sends it.
    const bounce = `bounce-${tag}@example.com`
    stack.inbox.refused.add(bounce)
    await register(stack, `bounce_${tag}`, bounce)
    const mailDeadLetters = page.getByRole('region', { name: /^Dead letters of mail/ })
    await mailDeadLetters.getByRole('table').getByText(/550/).waitFor()
    await page.getByRole('log', { name: 'All events' }).getByText('Mail dead-lettered by mailer-1').waitFor()
    await screenshot(page, '10-admin-dead-letter')
    stack.inbox.refused.delete(bounce)
    await mailDeadLetters.getByRole('button', { name: 'Replay all' }).click()
    await mailDeadLetters.getByText('Replayed 1 message to mail.').waitFor()
    await stack.inbox.mailTo(bounce)
    await mailDeadLetters.getByText('None.').waitFor()
    await screenshot(page, '11-admin-replayed')
    expect(errors).toEqual([])
  })
})
