import { randomBytes } from 'node:crypto'
import { newPage, screenshot } from './browser'
import { logIn, register, useStackAndBrowser } from './scenario'

// The admin's scenario stops one of the two mailers: a stack of its own, so no other scenario
// depends on running before or after it.
describe('the web console in a real browser: the admin pages', () => {
  const scene = useStackAndBrowser()
  const tag = randomBytes(3).toString('hex')

  test('an admin watches the mail queue lose a consumer, then replays a dead-lettered mail', async () => {
    const email = `root-${tag}@example.com`
    await register(scene.stack, `root_${tag}`, email)
    await scene.stack.promote(email)
    const { page, errors } = await newPage(scene.browser)

    await page.goto(`${scene.stack.url}/login?next=/admin`)
    await logIn(page, email, 'Admin')
    const consumers = (n: number) => page.locator('tr[data-queue="mail"] td[data-column="consumers"]', { hasText: new RegExp(`^${n}$`) })
    await consumers(2).waitFor()
    // Replicas seen in the last minute come with the admin stream's queue.stats: at least the api that
    // registered this admin and the mailer that sent their welcome mail.
    const replicas = page.getByRole('table', { name: 'Replicas seen in the last minute' })
    await replicas.getByRole('cell', { name: 'api-1', exact: true }).waitFor()
    await replicas.getByRole('cell', { name: /^mailer-[12]$/ }).first().waitFor()
    await screenshot(page, '08-admin')

    expect(await scene.stack.mailers[1]!.stop()).toBe(0)
    expect(await scene.stack.mailConsumers()).toBe(1)
    await consumers(1).waitFor()
    await screenshot(page, '09-admin-one-mailer')

    // A mail the SMTP server refuses for good is dead-lettered at once; once the address works, Replay sends it.
    const bounce = `bounce-${tag}@example.com`
    scene.stack.inbox.refused.add(bounce)
    await register(scene.stack, `bounce_${tag}`, bounce)
    const mailDeadLetters = page.getByRole('region', { name: /^Dead letters of mail/ })
    await mailDeadLetters.getByRole('table').getByText(/550/).waitFor()
    await page.getByRole('log', { name: 'All events' }).getByText('Mail dead-lettered by mailer-1').waitFor()
    await screenshot(page, '10-admin-dead-letter')
    scene.stack.inbox.refused.delete(bounce)
    await mailDeadLetters.getByRole('button', { name: 'Replay all' }).click()
    await mailDeadLetters.getByText('Replayed 1 message to mail.').waitFor()
    await scene.stack.inbox.mailTo(bounce)
    await mailDeadLetters.getByText('None.').waitFor()
    await screenshot(page, '11-admin-replayed')
    expect(errors).toEqual([])
  })
})
