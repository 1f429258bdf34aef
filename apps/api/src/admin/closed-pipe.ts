/**
 * A reader that stops early (`npm run -s dlq -- list mail | head -1`) closes the
 * pipe: that is the end of the output, not a failure. Without this, the next
 * write raises EPIPE as an unhandled 'error' event with a stack trace.
 */
export function endQuietlyOnClosedPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
    process.exit(process.exitCode ?? 0)
  })
}
