#!/bin/sh
# `/mailpit` of the stand-in inbox: with no arguments (or only flags) it runs MailDev in the
# foreground; `readyz` exits 0 once the web UI answers, as `mailpit readyz` does.
set -eu
case "${1:-}" in
  readyz)
    exec node -e "fetch('http://127.0.0.1:8025/healthz', { signal: AbortSignal.timeout(2000) })
      .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" ;;
  ''|-*) exec maildev "$@" ;;
  *) echo "mailpit stand-in (MailDev): '$1' is not supported; known: readyz" >&2; exit 2 ;;
esac
