import { randomBytes } from 'node:crypto'
import type { Page } from 'playwright-core'
import { avatarPng } from './avatar-image'
import { newPage, screenshot } from './browser'
import { startHoldingHookServer } from './hook-server'
import { PASSWORD, logIn, register, useStackAndBrowser } from './scenario'

// A person's scenarios; the admin's, which stops a mailer, has a stack of its own (console-admin.test.ts).
describe('the web console in a real browser, against the whole system', () => {
  const scene = useStackAndBrowser()
  const tag = randomBytes(3).toString('hex')

  test('a person registers, watches the welcome mail go out, verifies, logs in and sees their avatar thumbnail', async () => {
    const nickname = `ada_${tag}`
    const email = `ada-${tag}@example.com`
    const { page, errors } = await newPage(scene.browser)

    // A browser opening the api's address gets the console, not the JSON links.
    await page.goto(scene.stack.url)
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
    const mail = await scene.stack.inbox.mailTo(email)
    const link = mail.text.match(/http:\/\/127\.0\.0\.1:\d+\/verify\?token=[\w-]+/)?.[0]
    expect(link).toMatch(new RegExp(`^${scene.stack.url}/verify\\?token=`))
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
    await register(scene.stack, nickname, `lin-${tag}@example.com`, { verified: true })
    const hooks = await startHoldingHookServer()
    try {
      const { page, errors } = await newPage(scene.browser)
      await page.goto(`${scene.stack.url}/login?next=/jobs`)
      await logIn(page, nickname, 'Jobs')
      const status = (job: ReturnType<Page['getByRole']>, text: string) => job.getByTestId('job-status').getByText(text, { exact: true })

      await page.getByRole('button', { name: 'Submit job' }).click()
      const logJob = page.getByRole('article').first()
      await status(logJob, 'DONE').waitFor()
      // The steps in the order they happened, the api's QUEUED first (one stream of the user's own events feeds every card).
      const stepsOf = (job: ReturnType<Page['getByRole']>) => job.getByRole('list', { name: 'Steps' }).getByRole('listitem').allTextContents()
      const steps = async (job: ReturnType<Page['getByRole']>) => (await stepsOf(job)).map((text) => /[A-Z_]+ — [\w-]+/.exec(text)?.[0])
      await logJob.getByRole('list', { name: 'Steps' }).getByText(/DONE — worker/).waitFor()
      expect(await steps(logJob)).toEqual(['QUEUED — api-1', 'STARTED — worker-1', 'IN_PROGRESS — worker-1', 'DONE — worker-1'])
      await logJob.getByText(/^Result: /).waitFor()

      // A refused callback URL says why; the message goes when another job type is picked.
      await page.getByLabel('callback').check()
      await page.getByLabel('Callback URL').fill('http://10.1.2.3/hook')
      await page.getByRole('button', { name: 'Submit job' }).click()
      const refused = page.getByRole('alert').filter({ hasText: /private|not allowed|refused/i })
      await refused.waitFor()
      await page.getByLabel('email').check()
      await refused.waitFor({ state: 'detached' })

      await page.getByLabel('callback').check()
      await page.getByLabel('Callback URL').fill(hooks.url)
      await page.getByRole('button', { name: 'Submit job' }).click()
      const callbackJob = page.getByRole('article', { name: /^Job / }).first()
      await hooks.received
      await status(callbackJob, 'IN_PROGRESS').waitFor()
      await callbackJob.getByRole('button', { name: 'Cancel job' }).click()
      await status(callbackJob, 'CANCELLED').waitFor()
      await screenshot(page, '07-jobs')

      // A reload lists the same jobs (GET /v1/jobs), newest first, with their steps replayed in order.
      await page.reload()
      const jobs = page.getByRole('article', { name: /^Job / })
      await status(jobs.nth(0), 'CANCELLED').waitFor()
      await status(jobs.nth(1), 'DONE').waitFor()
      expect(await jobs.count()).toBe(2)
      await jobs.nth(1).getByRole('list', { name: 'Steps' }).getByText(/DONE — worker/).waitFor()
      expect(await steps(jobs.nth(1))).toEqual(['QUEUED — api-1', 'STARTED — worker-1', 'IN_PROGRESS — worker-1', 'DONE — worker-1'])
      expect((await steps(jobs.nth(0))).at(-1)).toBe('CANCELLED — api-1')
      await screenshot(page, '08-jobs-reloaded')
      // A phone's width: the cards and the form stay readable, nothing wider than the screen.
      await page.setViewportSize({ width: 390, height: 844 })
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
      await screenshot(page, '08-jobs-390px')
      expect(errors).toEqual([])
    } finally {
      await hooks.close()
    }
  })
})
