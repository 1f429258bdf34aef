import { randomBytes } from 'node:crypto'
import type { Page } from 'playwright-core'
import { newPage, screenshot } from './browser'
import { PASSWORD, logIn, useStackAndBrowser } from './scenario'

/** Fills the register form as a person would; the page that follows is the caller's to wait for. */
async function registerInBrowser(page: Page, url: string, email: string, nickname: string): Promise<void> {
  await page.goto(`${url}/register`)
  await page.getByLabel('E-mail address').fill(email)
  await page.getByLabel('Nickname').fill(nickname)
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Register', exact: true }).click()
}

// One welcome mail per mailbox a day, as in production: `kim+1@` gets the link, `kim+2@` lands in
// the same inbox and is withheld. The other limits stay off (the shared REGISTRATION_LIMITS_OFF).
describe('the web console in a real browser: a verification link that was not sent', () => {
  const scene = useStackAndBrowser({ WELCOME_MAILS_PER_MAILBOX_PER_DAY: '1' })
  const tag = randomBytes(3).toString('hex')

  test('a second account at one mailbox is told no link went out and why, and asks again from the page and the profile', async () => {
    const first = { email: `kim-${tag}+1@example.com`, nickname: `kim1_${tag}` }
    const second = { email: `kim-${tag}+2@example.com`, nickname: `kim2_${tag}` }
    const { page, errors } = await newPage(scene.browser)

    await registerInBrowser(page, scene.stack.url, first.email, first.nickname)
    await page.getByRole('heading', { name: 'Check your inbox' }).waitFor()
    await page.getByText(`We sent a verification link to ${first.email}`).waitFor()
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.getByRole('heading', { name: 'Log in', exact: true }).waitFor()

    // The same mailbox again: the account exists, the page says plainly that no link was sent, and why.
    await registerInBrowser(page, scene.stack.url, second.email, second.nickname)
    await page.getByRole('heading', { name: 'Your account is ready' }).waitFor()
    await page.getByText(`We have not sent a verification link to ${second.email} yet.`).waitFor()
    await page.getByText('A mail from us already went to this mailbox today.', { exact: false }).waitFor()
    await page.getByText('We are sending many mails right now', { exact: false }).waitFor()
    await screenshot(page, '15-link-withheld')

    // Signed out, the page offers to log in first, and comes back here afterwards.
    await page.getByRole('button', { name: 'Log out' }).click()
    await page.goto(`${scene.stack.url}/check-inbox?email=${encodeURIComponent(second.email)}&mail=withheld`)
    await page.getByRole('main').getByRole('link', { name: 'Log in' }).first().click()
    await logIn(page, second.nickname, 'Your account is ready')

    // Asking again: the mailbox had its mail today, so the server says no and when to try again.
    const linkArea = page.getByRole('region', { name: 'Verification link' })
    await linkArea.getByRole('button', { name: 'Send the link again' }).click()
    await linkArea.getByText('No link sent.').waitFor()
    await linkArea.getByText(/^No link sent\. Try again in (a minute|\d+ minutes|\d+ hours)\.$/).waitFor()
    await linkArea.getByText(/this mailbox has had its 1 verification mail/).waitFor()
    await screenshot(page, '16-link-limited')

    // The profile shows the address unverified, with the same button and the same answer.
    await page.getByRole('link', { name: 'Profile' }).click()
    await page.getByRole('heading', { name: 'Profile' }).waitFor()
    await page.getByText('not verified', { exact: true }).waitFor()
    const profileLink = page.getByRole('region', { name: 'Verification link' })
    await profileLink.getByRole('button', { name: 'Send the link again' }).click()
    await profileLink.getByText(/^No link sent\. Try again in (a minute|\d+ minutes|\d+ hours)\.$/).waitFor()
    await screenshot(page, '17-profile-link-limited')
    expect(scene.stack.inbox.mails.filter((m) => m.to.includes(second.email))).toEqual([])

    // The first account's link is opened on another device while its profile is open here:
    // the button then answers that the address is already verified, and the badge says so.
    const { page: profile, errors: profileErrors } = await newPage(scene.browser)
    await profile.goto(`${scene.stack.url}/login?next=/profile`)
    await logIn(profile, first.nickname, 'Profile')
    await profile.getByText('not verified', { exact: true }).waitFor()
    const link = (await scene.stack.inbox.mailTo(first.email)).text.match(/http:\/\/127\.0\.0\.1:\d+\/verify\?token=[\w-]+/)?.[0]
    const { page: phone } = await newPage(scene.browser)
    await phone.goto(link!)
    await phone.getByText('Your e-mail address is verified.').waitFor()
    const firstLink = profile.getByRole('region', { name: 'Verification link' })
    await firstLink.getByRole('button', { name: 'Send the link again' }).click()
    await firstLink.getByText('Your e-mail address is already verified; there is no need for a link.').waitFor()
    await profile.getByText('verified', { exact: true }).waitFor()
    expect(await firstLink.getByRole('button').count()).toBe(0)
    await screenshot(profile, '18-profile-already-verified')
    expect([...errors, ...profileErrors]).toEqual([])
  })
})
