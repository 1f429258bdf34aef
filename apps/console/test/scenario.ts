import type { Page } from 'playwright-core'
import type { Stack } from './stack/stack'

export const PASSWORD = 'correct horse battery staple'

/** Registers through the API (for people whose sign-up is not what a scenario is about). */
export async function register(stack: Stack, nickname: string, email: string): Promise<void> {
  const res = await fetch(`${stack.url}/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, nickname, password: PASSWORD })
  })
  if (res.status !== 201) throw new Error(`register ${nickname}: ${res.status} ${await res.text()}`)
}

/** Fills the log-in form as a person would and waits for the page it leads to. */
export async function logIn(page: Page, login: string, then: string): Promise<void> {
  await page.getByLabel('Nickname or e-mail address').fill(login)
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Log in', exact: true }).click()
  await page.getByRole('heading', { name: then, exact: true }).waitFor()
}
