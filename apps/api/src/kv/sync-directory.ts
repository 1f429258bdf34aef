import { openSync, fsyncSync, closeSync } from 'node:fs'
import { dirname } from 'node:path'

/** fsync the directory so a created or renamed log file survives a power loss. */
export function syncDirectory(file: string): void {
  const fd = openSync(dirname(file), 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
}
