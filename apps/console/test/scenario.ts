import type { Browser, Page } from 'playwright-core'
import { Client } from 'pg'
import { launchBrowser } from './browser'
import { startStack, type Stack } from './stack/stack'

export const PASSWORD = 'correct horse battery staple'

/**
 * Registers through the API (for people whose sign-up is not what a scenario is about); `verified`
 * marks the address verified as its mail's link would (log jobs and more than one live stream need it).
 */
export async function register(stack: Stack, nickname: string, email: string, opts: { verified?: boolean } = {}): Promise<void> {
  const res = await fetch(`${stack.url}/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, nickname, password: PASSWORD })
  })
  if (res.status !== 201) throw new Error(`register ${nickname}: ${res.status} ${await res.text()}`)
  if (!opts.verified) return
  const db = new Client({ connectionString: stack.databaseUrl })
  await db.connect()
  try {
    await db.query('UPDATE users SET email_verified_at = now() WHERE lower(email) = lower($1)', [email])
  } finally {
    await db.end()
  }
}

/** Fills the log-in form as a person would and waits for the page it leads to. */
export async function logIn(page: Page, login: string, then: string): Promise<void> {
  await page.getByLabel('Nickname or e-mail address').fill(login)
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Log in', exact: true }).click()
  await page.getByRole('heading', { name: then, exact: true }).waitFor()
}

/** What a scenario file shares: a stack and a browser, started together in beforeAll, stopped in afterAll. */
export interface Scene {
  readonly stack: Stack
  readonly browser: Browser
}

/**
 * Starts the stack (with `envOverrides` on top of the usual settings) and the
 * browser at once for the file's tests; if one fails,
 * the other is still stopped (a stack left running would keep jest from exiting).
 */
export function useStackAndBrowser(envOverrides: Readonly<Record<string, string>> = {}): Scene {
  let stack: Stack | undefined
  let browser: Browser | undefined
  beforeAll(async () => {
    const [started, launched] = await Promise.allSettled([startStack(envOverrides), launchBrowser()])
    if (started.status === 'fulfilled') stack = started.value
    if (launched.status === 'fulfilled') browser = launched.value
    for (const result of [started, launched]) if (result.status === 'rejected') throw result.reason
  })
  afterAll(async () => {
    await browser?.close()
    await stack?.stop()
  })
  return {
    get stack() { return stack! },
    get browser() { return browser! }
  }
}
