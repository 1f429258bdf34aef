import { useEffect } from 'preact/hooks'
import { useLocation } from 'preact-iso/router'
import { sessionToken } from '../session/token'

/** `/`: what this is; a signed-in person goes straight to their timeline. */
export function HomePage() {
  const { route } = useLocation()
  useEffect(() => { if (sessionToken.value) route('/timeline', true) }, [])
  return (
    <>
      <h1>Watch the system work</h1>
      <p>
        Register and follow your welcome mail from the API through RabbitMQ to a mailer and the SMTP server,
        upload an avatar and see the worker make its thumbnails, submit jobs and watch their status change.
        Admins see the queues, the replicas and the dead letters live.
      </p>
      <p class='actions'>
        <a class='button' href='/register'>Register</a>
        <a class='button secondary' href='/login'>Log in</a>
      </p>
    </>
  )
}
