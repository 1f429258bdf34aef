import { effect, signal } from '@preact/signals'
import { api } from '../api/client'
import type { Me, Session } from '../api/types'
import { sessionToken } from './token'

/** The signed-in person (`GET /v1/users/me`), once loaded; null when signed out or not yet loaded. */
export const me = signal<Me | null>(null)

/** Why the signed-in person could not be loaded (the API unreachable, a 503); null once loaded. */
export const accountError = signal<unknown>(null)

/** The `GET /v1/users/me` in flight, which every caller asking meanwhile shares. */
let loading: Promise<Me> | undefined

/**
 * Loads the signed-in person; a 401 drops the token (api client), and the
 * pages show the log-in form. A log-in asks, and so does the session loader
 * as soon as the token appears: they share one request instead of two.
 */
export function loadMe(): Promise<Me> {
  loading ??= fetchMe().finally(() => { loading = undefined })
  return loading
}

async function fetchMe(): Promise<Me> {
  try {
    const user = await api.get<Me>('/v1/users/me')
    me.value = user
    accountError.value = null
    return user
  } catch (err) {
    accountError.value = err
    throw err
  }
}

/** `POST /v1/sessions` with a nickname or e-mail address, then who that is. */
export async function logIn(login: string, password: string): Promise<Me> {
  const session = await api.post<Session>('/v1/sessions', { login, password })
  sessionToken.value = session.token
  return await loadMe()
}

/** Ends the session on the server (best effort) and forgets it here in any case. */
export async function logOut(): Promise<void> {
  try {
    await api.delete('/v1/sessions/current')
  } catch {
    // Already expired or unreachable: forgetting the token is what the person asked for.
  } finally {
    sessionToken.value = null
    me.value = null
  }
}

// However the token goes (log out, a 401 anywhere), the person goes with it.
effect(() => {
  if (!sessionToken.value) {
    me.value = null
    accountError.value = null
  }
})
