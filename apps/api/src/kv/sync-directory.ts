import { open } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * fsync the directory so a created or renamed log file survives a power loss.
 * Through the thread pool: a directory fsync can take as long as a file's, and
 * the event loop keeps serving reads meanwhile.
 */
export async function syncDirectory(file: string): Promise<void> {
  const dir = await open(dirname(file), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}
