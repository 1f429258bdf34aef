import { randomBytes } from 'node:crypto'
import { newPage, screenshot } from './browser'
import { logIn, register, useStackAndBrowser } from './scenario'

// The admin's scenario stops one of the two mailers: a stack of its own, so no other scenario
// depends on running before or after it.
describe('the web console in a real browser: the admin pages', () => {
  const scene = useStackAndBrowser()
  const tag = randomBytes(3).toString('hex')

  test('an admin watches the mail queue lose a consumer, filters and pauses the live feed, inspects, replays and deletes dead-lettered mails', async () => {
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
    const feed = page.getByRole('log', { name: 'All events' })
    await feed.getByText('Mail dead-lettered by mailer-1').waitFor()
    await screenshot(page, '10-admin-dead-letter')
    const rows = mailDeadLetters.locator('tr[data-message-id]')
    const firstId = (await rows.first().getAttribute('data-message-id'))!

    // The feed, filtered to dead letters from mailer-1 and paused: a second dead letter is counted, not shown, until Resume.
    const feedRegion = page.getByRole('region', { name: 'Every event, live' })
    await feedRegion.getByLabel('Type').selectOption('mail.dead_lettered')
    await feedRegion.getByLabel('Replica').selectOption('mailer-1')
    expect(await feed.locator('li').count()).toBe(1)
    await feedRegion.getByRole('button', { name: 'Pause' }).click()
    await feedRegion.getByText('Paused: 0 new not shown.').waitFor()
    const bounce2 = `bounce2-${tag}@example.com`
    scene.stack.inbox.refused.add(bounce2)
    await register(scene.stack, `bounce2_${tag}`, bounce2)
    await feedRegion.getByRole('button', { name: 'Resume (1 new)' }).waitFor()
    await feedRegion.getByText('Paused: 1 new not shown.').waitFor()
    expect(await feed.locator('li').count()).toBe(1)
    await screenshot(page, '10a-admin-feed-filtered-paused')
    await feedRegion.getByRole('button', { name: 'Resume (1 new)' }).click()
    await feedRegion.getByRole('button', { name: 'Pause' }).waitFor()
    expect(await feed.locator('li').count()).toBe(2)
    expect(await feed.locator('li:not([data-type="mail.dead_lettered"])').count()).toBe(0)
    await feedRegion.getByLabel('Type').selectOption('')
    await feedRegion.getByLabel('Replica').selectOption('')

    // Two dead letters; the first replayed while its address still refuses: the notice's numbers add up to the list.
    await mailDeadLetters.getByRole('heading', { name: 'Dead letters of mail (2)' }).waitFor()
    const secondId = (await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-message-id')))).find((id) => id !== firstId)!
    await mailDeadLetters.getByRole('button', { name: `Replay ${firstId}`, exact: true }).click()
    await mailDeadLetters.getByText('Replayed 1 message to mail; 1 still dead-lettered.').waitFor()
    await mailDeadLetters.getByText('It failed again at once and is listed again below.').waitFor()
    await mailDeadLetters.getByRole('heading', { name: 'Dead letters of mail (2)' }).waitFor()
    await mailDeadLetters.locator(`tr[data-message-id="${firstId}"]`).getByText(/replayed at .* failed again/).waitFor()

    // One dead letter in full: its headers and its body (the welcome mail's JSON, with the address), as text.
    await mailDeadLetters.getByRole('button', { name: `Show ${secondId}`, exact: true }).click()
    const details = mailDeadLetters.getByRole('group', { name: `Message ${secondId}` })
    await details.getByRole('table', { name: 'Headers' }).getByText('x-failure-reason').waitFor()
    const body = details.getByLabel(`Body of ${secondId}`)
    await body.getByText(bounce2, { exact: false }).waitFor()
    expect(await details.getByText(/bytes, JSON/).count()).toBe(1)
    await screenshot(page, '10b-admin-dead-letter-shown')

    // A phone's width: the feed comes first and short, dead letters as cards, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 })
    await screenshot(page, '10c-admin-narrow-390')
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await page.setViewportSize({ width: 1100, height: 800 })

    // Delete that one, asked once more.
    await mailDeadLetters.getByRole('button', { name: `Delete ${secondId}`, exact: true }).click()
    await mailDeadLetters.getByRole('button', { name: `Yes, delete ${secondId} for good` }).click()
    await mailDeadLetters.getByText(`Deleted ${secondId} (`).waitFor()
    await mailDeadLetters.getByRole('heading', { name: 'Dead letters of mail (1)' }).waitFor()
    expect(await rows.count()).toBe(1)

    // A poison message (an escape sequence, bytes that are not UTF-8): dead-lettered as malformed, shown as a hex dump.
    const poisonId = `poison-${tag}`
    await scene.stack.publishToMailQueue(Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0x3c, 0x62, 0x3e, 0xff, 0xfe, 0x00, 0x7b]), poisonId)
    await mailDeadLetters.getByRole('button', { name: `Show ${poisonId}`, exact: true }).click()
    const poison = mailDeadLetters.getByLabel(`Body of ${poisonId}`)
    await poison.getByText('00000000  1b 5b 32 4a 3c 62 3e ff fe 00 7b', { exact: false }).waitFor()
    expect(await poison.textContent()).toContain('|.[2J<b>...{|')
    expect(await mailDeadLetters.getByRole('group', { name: `Message ${poisonId}` }).getByText(/11 bytes, binary or not UTF-8, as hex/).count()).toBe(1)
    await screenshot(page, '10d-admin-poison-hex')
    await mailDeadLetters.getByRole('button', { name: `Delete ${poisonId}`, exact: true }).click()
    await mailDeadLetters.getByRole('button', { name: `Yes, delete ${poisonId} for good` }).click()
    await mailDeadLetters.getByText(`Deleted ${poisonId} (`).waitFor()
    await mailDeadLetters.getByRole('heading', { name: 'Dead letters of mail (1)' }).waitFor()
    expect(await rows.count()).toBe(1)

    scene.stack.inbox.refused.delete(bounce)
    await mailDeadLetters.getByRole('button', { name: 'Replay all' }).click()
    await mailDeadLetters.getByText('Replayed 1 message to mail.').waitFor()
    await scene.stack.inbox.mailTo(bounce)
    await mailDeadLetters.getByText('None.').waitFor()
    await screenshot(page, '11-admin-replayed')
    expect(errors).toEqual([])
  })
})
