import { useState } from 'preact/hooks'
import { useLocation } from 'preact-iso/router'
import { logIn } from '../session/session'
import { ErrorMessage, Field, formValues } from '../components/Form'

/** Only a path of this console: `?next=` never sends anyone to another site. */
function safeNext(next: string | undefined): string {
  return next && /^\/[a-z-]*(\?[^#]*)?$/.test(next) ? next : '/timeline'
}

/** `/login`: nickname or e-mail and password; then back where the person was going. */
export function LoginPage() {
  const { route, query } = useLocation()
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)

  async function submit(event: SubmitEvent) {
    event.preventDefault()
    const { login = '', password = '' } = formValues(event.currentTarget as HTMLFormElement)
    setBusy(true)
    setError(null)
    try {
      await logIn(login, password)
      route(safeNext(query.next))
    } catch (err) {
      setError(err)
      setBusy(false)
    }
  }

  return (
    <>
      <h1>Log in</h1>
      <form onSubmit={submit} aria-label='Log in'>
        <Field label='Nickname or e-mail address' name='login' autocomplete='username' required />
        <Field label='Password' name='password' type='password' autocomplete='current-password' required />
        <ErrorMessage error={error} />
        <button type='submit' disabled={busy}>{busy ? 'Logging in…' : 'Log in'}</button>
      </form>
      <p>New here? <a href='/register'>Register</a>.</p>
    </>
  )
}
