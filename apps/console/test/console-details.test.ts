import { randomBytes } from 'node:crypto'
import type { Page } from 'playwright-core'
import { avatarPng } from './avatar-image'
import { newPage, screenshot } from './browser'
import { PASSWORD, useStackAndBrowser } from './scenario'

/** Every request the page makes, as `METHOD /path`, from now on. */
function recordRequests(page: Page): string[] {
  const seen: string[] = []
  page.on('request', (request) => { seen.push(`${request.method()} ${new URL(request.url()).pathname}`) })
  return seen
}

/** The drawn width of an image, in CSS pixels, once it has loaded. */
async function drawnWidth(page: Page, alt: string): Promise<number> {
  await page.waitForFunction((a) => {
    const img = document.querySelector<HTMLImageElement>(`img[alt="${a}"]`)
    return img !== null && img.complete && img.naturalWidth > 0
  }, alt)
  return await page.getByRole('img', { name: alt }).evaluate((img) => img.getBoundingClientRect().width)
}

// What a newcomer met first: the upload form's promises, a bad link, a wrong address, mixed dates.
describe('the web console in a real browser: the details a newcomer meets', () => {
  const scene = useStackAndBrowser()
  const tag = randomBytes(3).toString('hex')
  const nickname = `grace_${tag}`
  const email = `grace-${tag}@example.com`

  test('registering asks who is signed in once; the profile offers the server\'s formats, refuses a file too big before sending it, and draws each thumbnail at its size', async () => {
    const { page, errors } = await newPage(scene.browser)
    const requests = recordRequests(page)
    await page.goto(`${scene.stack.url}/register`)
    await page.getByLabel('E-mail address').fill(email)
    await page.getByLabel('Nickname').fill(nickname)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Register', exact: true }).click()
    await page.getByRole('heading', { name: 'Check your inbox' }).waitFor()
    // By the time the mail went out every page load and effect has run.
    await page.getByRole('log', { name: 'My events' }).getByText(/SMTP accepted by mailer-[12]/).waitFor()
    expect(requests.filter((r) => r === 'GET /v1/users/me')).toHaveLength(1)

    await page.getByRole('link', { name: 'Profile' }).click()
    await page.getByRole('heading', { name: 'Profile' }).waitFor()
    // One date format everywhere: the date and the time to the second.
    expect(await page.locator('dt:has-text("Member since") + dd').innerText()).toMatch(/2\d{3}.*\b\d{2}:\d{2}:\d{2}$/)
    const picker = page.getByLabel('Image (JPEG, PNG, WebP, GIF, TIFF or AVIF, up to 10 MiB)')
    expect(await picker.getAttribute('accept')).toBe('image/jpeg,image/png,image/webp,image/gif,image/tiff,image/avif')

    // 12.9 MB: refused as soon as it is picked, and the button does not send it either.
    await picker.setInputFiles({ name: 'holiday.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(12_900_000, 1) })
    const tooBig = 'This file is 12.3 MiB; the largest image the server takes is 10 MiB. Choose a smaller one.'
    await page.getByText(tooBig).waitFor()
    await screenshot(page, '20-avatar-too-big')
    await page.getByRole('button', { name: 'Upload avatar' }).click()
    await page.getByText(tooBig).waitFor()
    expect(requests.filter((r) => r.startsWith('PUT '))).toEqual([])

    await picker.setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: await avatarPng() })
    expect(await page.getByText(tooBig).count()).toBe(0)
    await page.getByRole('button', { name: 'Upload avatar' }).click()
    await page.getByRole('img', { name: '512 px thumbnail' }).waitFor()
    expect(await drawnWidth(page, '128 px thumbnail')).toBe(128)
    expect(await drawnWidth(page, '512 px thumbnail')).toBe(512)
    await screenshot(page, '21-avatar-thumbnails')
    // On a phone the big one shrinks to the screen, the small one keeps its size.
    await page.setViewportSize({ width: 390, height: 800 })
    expect(await drawnWidth(page, '128 px thumbnail')).toBe(128)
    expect(await drawnWidth(page, '512 px thumbnail')).toBeLessThan(390)
    await screenshot(page, '22-avatar-thumbnails-390px')
    expect(errors).toEqual([])
  })

  test('a bad verification link offers a new one when signed in, and the way to it when not; never "register again"', async () => {
    const { page, errors } = await newPage(scene.browser)
    await page.goto(`${scene.stack.url}/login`)
    await page.getByLabel('Nickname or e-mail address').fill(nickname)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Log in', exact: true }).click()
    await page.getByRole('heading', { name: 'My timeline', exact: true }).waitFor()

    await page.goto(`${scene.stack.url}/verify?token=${'x'.repeat(43)}`)
    const linkArea = page.getByRole('region', { name: 'Verification link' })
    await linkArea.getByRole('button', { name: 'Send the link again' }).waitFor()
    expect(await page.getByText(/register again/i).count()).toBe(0)
    await screenshot(page, '23-verify-bad-link')
    await linkArea.getByRole('button', { name: 'Send the link again' }).click()
    await linkArea.getByText(`A new verification link is on its way to ${email}.`, { exact: false }).waitFor()

    const { page: stranger, errors: strangerErrors } = await newPage(scene.browser)
    await stranger.goto(`${scene.stack.url}/verify?token=${'y'.repeat(43)}`)
    const logIn = stranger.getByRole('main').getByRole('link', { name: 'Log in' })
    await logIn.waitFor()
    expect(await logIn.getAttribute('href')).toBe('/login?next=%2Fprofile')
    expect(await stranger.getByText(/register again/i).count()).toBe(0)
    expect([...errors, ...strangerErrors]).toEqual([])
  })

  test('an unknown address shows the console\'s own not-found page (404), not the API\'s JSON', async () => {
    const { page, errors } = await newPage(scene.browser)
    const response = await page.goto(`${scene.stack.url}/profiles/ada`)
    expect(response?.status()).toBe(404)
    await page.getByRole('heading', { name: 'No such page' }).waitFor()
    await screenshot(page, '24-not-found')
    await page.getByRole('link', { name: 'Back to the start' }).click()
    await page.getByRole('heading', { name: 'Watch the system work' }).waitFor()
    expect(errors).toEqual([])
  })
})
