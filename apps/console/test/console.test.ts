import { randomBytes } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import { avatarPng } from './avatar-image'
import { launchBrowser, newPage, screenshot } from './browser'
import { startHoldingHookServer } from './hook-server'
import { startStack, type Stack } from './stack/stack'

const PASSWORD = 'correct horse battery staple'

/** Registers through the API (for people whose sign-up is not what a scenario is about). */
async function register(stack: Stack, nickname: string, email: string): Promise<void> {
  const res = await fetch(`${stack.url}/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, nickname, password: PASSWORD })
  })
  if (res.status !== 201) throw new Error(`register ${nickname}: ${res.status} ${await res.text()}`)
}

/** Fills the log-in form as a person would and waits for the page it leads to. */
async function logIn(page: Page, login: string, then: string): Promise<void> {
  await page.getByLabel('Nickname or e-mail address').fill(login)
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Log in', exact: true }).click()
  await page.getByRole('heading', { name: then, exact: true }).waitFor()
}

describe('the web console in a real browser, against the whole system', () => {
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

  test('a person registers, watches the welcome mail go out, verifies, logs in and sees their avatar thumbnail', async () => {
    const nickname = `ada_${tag}`
    const email = `ada-${tag}@example.com`
    const { page, errors } = await newPage(browser)

    // A browser opening the api's address gets the console, not the JSON links.
    await page.goto(stack.url)
    await page.getByRole('heading', { name: 'Watch the system work' }).waitFor()
    await screenshot(page, '00-home')
    await page.getByRole('main').getByRole('link', { name: 'Register' }).click()
    await page.getByLabel('E-mail address').fill(email)
    await page.getByLabel('Nickname').fill(nickname)
    await page.getByLabel('Password').fill(PASSWORD)
    await screenshot(page, '01-register')
    await page.getByRole('button', { name: 'Register', exact: true }).click()

    await page.getByRole('heading', { name: 'Check your inbox' }).waitFor()
    const myEvents = page.getByRole('log', { name: 'My events' })
    await myEvents.getByText(/SMTP accepted by mailer-[12]/).waitFor()
    await screenshot(page, '02-check-inbox')

    // The link in the mail the SMTP server received opens the console's Verify page.
    const mail = await stack.inbox.mailTo(email)
    const link = mail.text.match(/http:\/\/127\.0\.0\.1:\d+\/verify\?token=[\w-]+/)?.[0]
    expect(link).toMatch(new RegExp(`^${stack.url}/verify\\?token=`))
    await page.goto(link!)
    await page.getByText('Your e-mail address is verified.').waitFor()
    await screenshot(page, '03-verify')

    await page.getByRole('button', { name: 'Log out' }).click()
    await page.getByRole('heading', { name: 'Log in', exact: true }).waitFor()
    await page.getByLabel('Nickname or e-mail address').fill(nickname)
    await screenshot(page, '04-login')
    await logIn(page, nickname, 'My timeline')
    // The timeline starts with what the server kept of the last minutes: the mail is there again.
    await myEvents.getByText(/SMTP accepted by mailer-[12]/).waitFor()
    await screenshot(page, '05-timeline')

    await page.getByRole('link', { name: 'Profile' }).click()
    await page.getByRole('heading', { name: 'Profile' }).waitFor()
    await page.getByLabel(/^Image/).setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: await avatarPng() })
    await page.getByRole('button', { name: 'Upload avatar' }).click()
    const thumbnail = page.getByRole('img', { name: '128 px thumbnail' })
    await thumbnail.waitFor()
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('img[alt="128 px thumbnail"]')
      return img !== null && img.complete && img.naturalWidth > 0
    })
    await screenshot(page, '06-profile')
    expect(errors).toEqual([])
  })

  test('a person submits a job and watches it finish, then cancels a slow one', async () => {
    const nickname = `lin_${tag}`
    await register(stack, nickname, `lin-${tag}@example.com`)
    const hooks = await startHoldingHookServer()
    try {
      const { page, errors } = await newPage(browser)
      await page.goto(`${stack.url}/login?next=/jobs`)
      await logIn(page, nickname, 'Jobs')
      const status = (job: ReturnType<Page['getByRole']>, text: string) => job.getByTestId('job-status').getByText(text, { exact: true })

      await page.getByRole('button', { name: 'Submit job' }).click()
      const logJob = page.getByRole('article').first()
      await status(logJob, 'DONE').waitFor()

      await page.getByLabel('callback').check()
      await page.getByLabel('Callback URL').fill(hooks.url)
      await page.getByRole('button', { name: 'Submit job' }).click()
      const callbackJob = page.getByRole('article', { name: /^Job / }).first()
      await hooks.received
      await status(callbackJob, 'IN_PROGRESS').waitFor()
      await callbackJob.getByRole('button', { name: 'Cancel job' }).click()
      await status(callbackJob, 'CANCELLED').waitFor()
      await screenshot(page, '07-jobs')
      expect(errors).toEqual([])
    } finally {
      await hooks.close()
    }
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
