import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Page } from 'playwright-core'
import { newPage, screenshot } from './browser'
import { logIn, register, useStackAndBrowser } from './scenario'

/** A chart's canvas as a screen reader meets it: its name carries each line's newest value and peak. */
const chart = (page: Page, title: string) => page.getByRole('img', { name: new RegExp(`^${title}[^:]*: `) })
/**
 * What the window shows from `heading` down (the live feed below makes a whole-page shot
 * thousands of pixels long); saved beside the other screenshots.
 */
async function screenshotFrom(page: Page, heading: string, name: string): Promise<void> {
  await page.getByRole('heading', { name: heading, exact: true }).evaluate((h) => h.scrollIntoView({ block: 'start' }))
  await screenshot(page, name, { fullPage: false })
}
const points = async (page: Page, title: string): Promise<number> => Number(await chart(page, title).getAttribute('data-points'))

// Heartbeats every half second, so a killed process is stale (three missed) within two seconds.
// A stack of its own: this scenario kills a mailer.
describe('the web console in a real browser: the admin charts and replicas', () => {
  const scene = useStackAndBrowser({ REPLICA_HEARTBEAT_MS: '500' })
  const tag = randomBytes(3).toString('hex')

  test('the charts move while mail flows; a killed mailer turns grey, a worker stopped cleanly leaves the list', async () => {
    const email = `charts-${tag}@example.com`
    await register(scene.stack, `charts_${tag}`, email)
    await scene.stack.promote(email)
    const { page, errors } = await newPage(scene.browser)
    await page.goto(`${scene.stack.url}/login?next=/admin`)
    await logIn(page, email, 'Admin')

    const replicas = page.getByRole('table', { name: 'Replicas seen in the last minute' })
    const row = (replica: string) => replicas.locator(`tr[data-replica="${replica}"]`)
    // Idle since start, the worker and both mailers are listed from their heartbeats alone.
    for (const replica of ['api-1', 'mailer-1', 'mailer-2', 'worker-1']) await row(replica).getByText('live').waitFor()

    // Mail flows for a while: twenty sign-ups, each a welcome mail, over about ten seconds.
    const before = await points(page, 'Queue depth')
    for (let i = 0; i < 20; i++) {
      await register(scene.stack, `flow_${tag}_${i}`, `flow-${tag}-${i}@example.com`)
      await sleep(500)
    }
    await scene.stack.inbox.mailTo(`flow-${tag}-19@example.com`)
    // A point a second on every chart; a mailer's rate from two heartbeats' counts; send times from mail.sent.
    expect(await points(page, 'Queue depth')).toBeGreaterThan(before + 5)
    await chart(page, 'Queue depth').and(page.getByRole('img', { name: /mail [\d.]+ msgs/ })).waitFor()
    await chart(page, 'Messages per second').and(page.getByRole('img', { name: /mailer\/mailer-[12] [\d.]+ \/s \(peak (0\.[1-9]|[1-9])/ })).waitFor()
    await chart(page, 'Mail latency').and(page.getByRole('img', { name: /p50 [\d.]+ ms \(peak [1-9]/ })).waitFor()
    await screenshotFrom(page, 'Replicas', '30-admin-charts')

    // The Unacked column is filled from the management API here: once it has counted the queues, no hint stands under it.
    await page.locator('tr[data-queue="thumbnails"] td[data-column="unacked"]', { hasText: /^\d+$/ }).waitFor()
    expect(await page.getByText('Why “—” under Unacked').count()).toBe(0)

    // Killed (no goodbye): mailer-2 misses its heartbeats and turns grey; its count stops.
    scene.stack.mailers[1]!.child.kill('SIGKILL')
    await row('mailer-2').getByText('stale').waitFor()
    expect(await row('mailer-2').getAttribute('class')).toBe('stale')
    // Stopped cleanly: the worker says so and leaves the list at once, without going grey first.
    expect(await scene.stack.worker.stop()).toBe(0)
    await row('worker-1').waitFor({ state: 'detached', timeout: 5000 })
    await row('mailer-1').getByText('live').waitFor()
    await screenshotFrom(page, 'Replicas', '31-admin-replica-stale')

    // A phone's width: the queues, replicas and charts shrink to fit, nothing of them past the right edge.
    await page.setViewportSize({ width: 390, height: 1400 })
    const sections = page.locator('section[aria-labelledby="queues-heading"], section[aria-labelledby="replicas-heading"], section[aria-labelledby="charts-heading"]')
    await page.waitForFunction(() => Array.from(document.querySelectorAll('.chart-canvas canvas')).every((c) => c.getBoundingClientRect().right <= window.innerWidth))
    await screenshotFrom(page, 'Queues', '32-admin-charts-390')
    for (const section of await sections.all()) {
      // Named by tag and text, so a failure says what sticks out.
      const overflowing = await section.evaluate((s) => Array.from(s.querySelectorAll('*'))
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5).map((e) => `${e.tagName} ${e.textContent?.slice(0, 30)}`))
      expect(overflowing).toEqual([])
    }
    expect(errors).toEqual([])
  })
})

describe('the web console in a real browser: Unacked without the management API', () => {
  const scene = useStackAndBrowser({ RABBITMQ_MANAGEMENT_URL: '' })
  const tag = randomBytes(3).toString('hex')

  test('the queues table says which setting fills the Unacked column', async () => {
    const email = `unacked-${tag}@example.com`
    await register(scene.stack, `unacked_${tag}`, email)
    await scene.stack.promote(email)
    const { page, errors } = await newPage(scene.browser)
    await page.goto(`${scene.stack.url}/login?next=/admin`)
    await logIn(page, email, 'Admin')
    await page.locator('tr[data-queue="mail"] td[data-column="unacked"]', { hasText: '—' }).waitFor()
    await page.getByText('Why “—” under Unacked').getByText('RABBITMQ_MANAGEMENT_URL').waitFor()
    await page.locator('tr[data-replica="api-1"]').getByText('live').waitFor()
    await screenshotFrom(page, 'Queues', '33-admin-unacked-hint')
    expect(errors).toEqual([])
  })
})
