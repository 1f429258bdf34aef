/** Longest outside text (an SMTP reply, a report's diagnostic) the sender keeps. */
export const STORED_TEXT_MAX = 1000

/**
 * Text written by strangers (a receiving server's SMTP reply, a bounce report's
 * diagnostic) as Postgres can store it: without NUL, which text columns refuse
 * (the whole statement would fail, and a report be answered "try again" for
 * ever), and at most STORED_TEXT_MAX characters.
 */
export function storedText(text: string): string {
  return text.replaceAll('\u0000', '').slice(0, STORED_TEXT_MAX)
}
