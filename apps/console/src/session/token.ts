import { effect, signal } from '@preact/signals'

const STORAGE_KEY = 'socialnet.session'

/**
 * The session token, kept in sessionStorage: it survives a reload of the tab
 * but not closing it, and other tabs do not share it.
 */
export const sessionToken = signal<string | null>(sessionStorage.getItem(STORAGE_KEY))

effect(() => {
  if (sessionToken.value) sessionStorage.setItem(STORAGE_KEY, sessionToken.value)
  else sessionStorage.removeItem(STORAGE_KEY)
})
