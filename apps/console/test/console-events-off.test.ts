import { randomBytes } from 'node:crypto'
import { newPage, screenshot } from './browser'
import { logIn, register, useStackAndBrowser } from './scenario'

// Every process of this stack runs with EVENTS=off: the api answers its stream routes 503 EVENTS_OFF.
describe('the web console in a real browser: a deployment with events turned off', () => {
  const scene = useStackAndBrowser({ EVENTS: 'off' })
  const tag = randomBytes(3).toString('hex')

  test('the timeline says live events are off instead of reconnecting for ever; the rest of the page works', async () => {
    const nickname = `eve_${tag}`
    await register(scene.stack, nickname, `eve-${tag}@example.com`, { verified: true })
    const { page, errors } = await newPage(scene.browser)
    await page.goto(`${scene.stack.url}/login`)
    await logIn(page, nickname, 'My timeline')
    const status = page.getByRole('status').filter({ hasText: 'Stream:' }).first()
    await status.getByText('live events are turned off on this server (EVENTS=off)', { exact: false }).waitFor()
    expect(await status.textContent()).not.toMatch(/reconnecting/)
    await screenshot(page, '16-events-off')
    expect(errors).toEqual([])
  })
})
