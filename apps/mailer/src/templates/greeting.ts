// A nickname is chosen by whoever signs up, and the welcome mail goes to an
// address they typed: anyone can make us mail a stranger. Echoed as is, a
// nickname such as `WIN-iPhone.at.evil-site.com` or `Call 0800 123 456`
// turns our mail into the attacker's advert, and mail clients make links of
// anything that looks like a host, an address or a phone number. So the
// nickname is shown only when it cannot read as one of those.
const SAFE_NICKNAME = /^[\p{L}\p{N}_ -]{1,30}$/u
const LONG_DIGIT_RUN = /\p{N}{5,}/u
// Spelled-out separators (`evil-site dot com`, `x at y`) would read as a host name or address to a person.
const SPELLED_SEPARATOR = /(^|[\s_-])(dot|at)([\s_-]|$)/iu

/** The nickname if a mail may show it (letters, digits, `_`, `-`, spaces; short; nothing that reads as a link, address or phone number), else undefined. */
export function displayableNickname(nickname: string): string | undefined {
  const name = nickname.trim()
  if (!SAFE_NICKNAME.test(name) || LONG_DIGIT_RUN.test(name) || SPELLED_SEPARATOR.test(name)) return undefined
  // Mixed digits and separators (`0800-123-456`, `+1 555 0100`) read as a phone number even in short runs.
  if ((name.match(/\p{N}/gu) ?? []).length >= 5 && !/\p{L}/u.test(name)) return undefined
  return name
}
