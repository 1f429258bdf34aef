import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'

/** Debian's chromium (`apt-get install -y chromium`); CHROMIUM_PATH points elsewhere. */
const EXECUTABLE = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const SCREENSHOTS = join(__dirname, '..', 'test-output', 'screenshots')

/** Headless Chromium without the background chatter (updates, sync, first-run pages) a test has no use for. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(EXECUTABLE)) throw new Error(`no browser at ${EXECUTABLE}: apt-get install -y chromium (or set CHROMIUM_PATH)`)
  return await chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
  })
}

/**
 * A new page in its own context (own sessionStorage: one person per page).
 * `errors` collects what a person would suffer from: uncaught exceptions and
 * anything the Content-Security-Policy refused (a 404 the page handles is not one).
 */
export async function newPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } })
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content.Security.Policy|Refused to/i.test(message.text())) errors.push(message.text())
  })
  return { page, errors }
}

/** Saves the whole page (or, with fullPage false, what the window shows) as test-output/screenshots/<name>.png, to look at after a run. */
export async function screenshot(page: Page, name: string, { fullPage = true }: { fullPage?: boolean } = {}): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage })
}
