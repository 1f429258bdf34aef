import { useState } from 'preact/hooks'
import { useLocation } from 'preact-iso/router'
import { api } from '../api/client'
import type { UserCreated } from '../api/types'
import { logIn } from '../session/session'
import { ErrorMessage, Field, formValues } from '../components/Form'

/** `/register`: e-mail, nickname, password; then the check-your-inbox page. */
export function RegisterPage() {
  const { route } = useLocation()
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)

  async function register(event: SubmitEvent) {
    event.preventDefault()
    const { email = '', nickname = '', password = '' } = formValues(event.currentTarget as HTMLFormElement)
    setBusy(true)
    setError(null)
    try {
      const user = await api.post<UserCreated>('/v1/users', { email, nickname, password })
      // Signed in at once, so the next page can show the welcome mail on its way.
      await logIn(user.nickname, password).catch(() => undefined)
      // Withheld: the next page says why no link went out and offers to send it again.
      route(`/check-inbox?email=${encodeURIComponent(user.email)}${user.verificationMail === 'withheld' ? '&mail=withheld' : ''}`)
    } catch (err) {
      setError(err)
      setBusy(false)
    }
  }

  return (
    <>
      <h1>Register</h1>
      <form onSubmit={register} aria-label='Register'>
        <Field label='E-mail address' name='email' type='email' autocomplete='email' required maxLength={254} />
        <Field
          label='Nickname' name='nickname' autocomplete='username' required minLength={3} maxLength={32}
          pattern='[A-Za-z0-9_][A-Za-z0-9_.\-]{2,31}' hint='3–32 letters, digits, _ . - (not starting with . or -)'
        />
        <Field
          label='Password' name='password' type='password' autocomplete='new-password' required minLength={8}
          hint='At least 8 characters; a few unusual words are stronger than symbols'
        />
        <ErrorMessage error={error} />
        <button type='submit' disabled={busy}>{busy ? 'Registering…' : 'Register'}</button>
      </form>
      <p>Already registered? <a href='/login'>Log in</a>.</p>
    </>
  )
}
