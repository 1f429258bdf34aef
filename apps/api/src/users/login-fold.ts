/**
 * The one case fold for logins (e-mail address or nickname). The account
 * lookup and the failed-login counter both use it, so a login can never reach
 * an account under one spelling while its failures are counted under another.
 *
 * It runs in JavaScript, never as Postgres lower() on what the client typed:
 * the two disagree on some letters (lower('İ') is 'i' in Postgres, while
 * 'İ'.toLowerCase() is 'i' + U+0307), and that gap once let a locked account
 * log in. Stored e-mail addresses and nicknames are ASCII (the request schemas
 * allow nothing else), where both folds agree, so the unique indexes on
 * lower(email) and lower(nickname) compare the same strings as this function.
 */
export function foldLogin(login: string): string {
  return login.toLowerCase()
}
