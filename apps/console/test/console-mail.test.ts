import { randomBytes, randomUUID } from 'node:crypto'
import { Pool } from 'pg'
import { DeliveryAttempts, SuppressionList } from '@socialnet/sender'
import { newPage, screenshot } from './browser'
import { logIn, register, useStackAndBrowser } from './scenario'

// The mail page reads the delivery log and the suppression list: the scenario writes the
// attempts through the sender package, as the mailers do, so it does not depend on a
// receiving server that defers or bounces on cue.
describe('the web console in a real browser: the mail page', () => {
  let pool: Pool | undefined
  // Declared before the stack's hooks: afterAll hooks run in the order declared, and the stack's drops the database.
  afterAll(async () => { await pool?.end() })
  const scene = useStackAndBrowser()
  const tag = randomBytes(3).toString('hex')

  test('an admin finds why mail to an address does not go out, lifts its suppression, then suppresses it by hand and removes it', async () => {
    pool = new Pool({ connectionString: scene.stack.databaseUrl, max: 2 })
    const dora = `dora-${tag}@example.com`
    const welcome = randomUUID()
    const reset = randomUUID()
    const attempts = new DeliveryAttempts(pool)
    for (const row of [
      { messageId: welcome, outcome: 'throttled' as const, replica: 'mailer-1', smtpReply: 'example.com out of tokens, next try in 4 s' },
      { messageId: welcome, outcome: 'deferred' as const, replica: 'mailer-2', smtpCode: 421, smtpReply: '4.7.0 Try again later', durationMs: 184 },
      { messageId: welcome, outcome: 'sent' as const, replica: 'mailer-1', smtpCode: 250, smtpReply: '250 2.0.0 OK: queued as 4F2A1', durationMs: 41 },
      { messageId: reset, outcome: 'bounced' as const, replica: 'mailer-2', smtpCode: 550, smtpReply: '5.1.1 <dora> user unknown', durationMs: 37 },
      { messageId: reset, outcome: 'suppressed' as const, replica: 'mailer-1', smtpReply: 'suppressed (hard_bounce)' }
    ]) await attempts.record([{ ...row, recipient: dora }])
    await new SuppressionList(pool).recordBounce({ address: dora, kind: 'hard', source: 'smtp', messageId: reset, detail: '550 5.1.1 <dora> user unknown' })

    const email = `postmaster-${tag}@example.com`
    await register(scene.stack, `postmaster_${tag}`, email)
    await scene.stack.promote(email)
    const { page, errors } = await newPage(scene.browser)
    await page.goto(`${scene.stack.url}/login?next=/mail`)
    await logIn(page, email, 'Mail')

    // A search by address, in any letter case: the whole history, newest first, and why nothing goes out.
    await page.getByLabel('Recipient address or message id').fill(dora.toUpperCase())
    await page.getByRole('button', { name: 'Search' }).click()
    const history = page.getByRole('table', { name: `Delivery attempts to ${dora}` })
    await history.waitFor()
    expect(await history.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-outcome'))))
      .toEqual(['suppressed', 'bounced', 'sent', 'deferred', 'throttled'])
    await history.getByText('5.1.1 <dora> user unknown').waitFor()
    const state = page.getByRole('region', { name: `Suppression of ${dora}` })
    await state.getByText('Suppressed').waitFor()
    await state.getByText('hard bounce').waitFor()
    const suppressedList = page.getByRole('table', { name: 'Suppressed addresses' })
    await suppressedList.getByRole('button', { name: dora, exact: true }).waitFor()
    await screenshot(page, '12-mail-recipient')

    // One message's history, oldest first; its address leads back.
    await history.getByRole('button', { name: `Message ${welcome}`, exact: true }).first().click()
    const message = page.getByRole('table', { name: `Delivery attempts of ${welcome}` })
    await message.waitFor()
    expect(await message.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-outcome')))).toEqual(['throttled', 'deferred', 'sent'])
    // nodemailer's reply starts with the code the cell already shows: once, not "250 250 …".
    expect(await message.locator('tbody tr[data-outcome="sent"]').innerText()).toContain('250 2.0.0 OK: queued as 4F2A1')
    expect(await message.locator('tbody tr[data-outcome="sent"]').innerText()).not.toContain('250 250')
    expect(new URL(page.url()).searchParams.get('q')).toBe(welcome)
    await screenshot(page, '13-mail-message')

    // Lifting the suppression: the state says so, and the list below no longer has the address.
    await state.getByRole('button', { name: 'Lift suppression' }).click()
    await state.getByText(`Suppression lifted: mail to ${dora} goes out again.`).waitFor()
    await state.getByText('Not suppressed').waitFor()
    await page.getByText('No address is suppressed.').waitFor()

    // Suppressing the address again by hand, with a note: the list has it, and so does the history above.
    const form = page.getByRole('form', { name: 'Suppress an address' })
    await form.getByLabel('Address to suppress').fill(dora)
    await form.getByLabel('Note').fill('asked us to stop, by phone')
    await form.getByRole('button', { name: 'Suppress' }).click()
    await page.getByText(`${dora} is suppressed.`).waitFor()
    const row = suppressedList.locator(`tr[data-address="${dora}"]`)
    await row.getByText('asked us to stop, by phone').waitFor()
    await row.getByText('added by hand').waitFor()
    await state.getByText('added by hand').waitFor()
    await screenshot(page, '14-mail-suppressions')
    expect(await new SuppressionList(pool).get(dora)).toMatchObject({ reason: 'manual', source: 'admin', detail: 'asked us to stop, by phone' })

    // Removing it from the list: gone there and above.
    await row.getByRole('button', { name: `Remove ${dora}` }).click()
    await page.getByText(`Suppression of ${dora} lifted.`).waitFor()
    await page.getByText('No address is suppressed.').waitFor()
    await state.getByText('Not suppressed').waitFor()
    expect(await new SuppressionList(pool).get(dora)).toBeUndefined()
    expect(errors).toEqual([])
  })
})
