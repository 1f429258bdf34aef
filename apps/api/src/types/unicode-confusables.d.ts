// unicode-confusables ships its typings under a misspelled file name (index.ts.d), so tsc never finds them.
declare module 'unicode-confusables' {
  /** Replaces each character by its prototype from Unicode's confusables.txt (UTS #39), dropping zero-width ones. */
  export function rectifyConfusion(text: string): string
}
