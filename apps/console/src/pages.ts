/**
 * Every path the console answers. The build writes this list to
 * dist/pages.json, and the api serves index.html at exactly these paths, so a
 * reload or a link from a mail (`/verify?token=…`) opens the right page.
 */
export const PAGE_PATHS = ['/register', '/check-inbox', '/verify', '/login', '/profile', '/timeline', '/jobs', '/admin', '/mail'] as const

export type PagePath = (typeof PAGE_PATHS)[number] | '/'
