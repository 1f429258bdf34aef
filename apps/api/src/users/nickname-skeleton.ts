import { rectifyConfusion } from 'unicode-confusables'

/** UTS #39 skeleton: NFD, every character by its confusables.txt prototype, NFD again. */
function skeleton(text: string): string {
  return rectifyConfusion(text.normalize('NFD')).normalize('NFD')
}

/**
 * What a nickname looks like, for the unique index that refuses look-alikes:
 * `aIice` (capital I), `a1ice` and `alice` share one, and so do `b0b` and
 * `bob`, `rnike` and `mike`. It is the skeleton taken before and after case
 * folding: before, because folding first would turn the capital I (a look-alike
 * of l) into i; after, so that case variants of a look-alike (`ALlCE` next to
 * `ALICE`) meet too. Exact case variants (`ALICE`, `alice`) are already refused
 * by the lower(nickname) index.
 */
export function nicknameSkeleton(nickname: string): string {
  return skeleton(skeleton(nickname).toLowerCase())
}
