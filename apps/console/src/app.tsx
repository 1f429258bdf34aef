import { useEffect } from 'preact/hooks'
import { LocationProvider, Route, Router } from 'preact-iso/router'
import { loadMe, me } from './session/session'
import { sessionToken } from './session/token'
import { Header } from './components/Header'
import { HomePage } from './pages/HomePage'
import { RegisterPage } from './pages/RegisterPage'
import { CheckInboxPage } from './pages/CheckInboxPage'
import { VerifyPage } from './pages/VerifyPage'
import { LoginPage } from './pages/LoginPage'
import { ProfilePage } from './pages/ProfilePage'
import { TimelinePage } from './pages/TimelinePage'
import { JobsPage } from './pages/JobsPage'
import { AdminPage } from './pages/AdminPage'
import { MailPage } from './pages/MailPage'
import { NotFoundPage } from './pages/NotFoundPage'
import { PAGE_PATHS, type PagePath } from './pages'

/** Every page by its path; the same paths as pages.ts (the api serves the console there). */
const ROUTES: Record<PagePath, () => preact.JSX.Element> = {
  '/': HomePage,
  '/register': RegisterPage,
  '/check-inbox': CheckInboxPage,
  '/verify': VerifyPage,
  '/login': LoginPage,
  '/profile': ProfilePage,
  '/timeline': TimelinePage,
  '/jobs': JobsPage,
  '/admin': AdminPage,
  '/mail': MailPage
}

/** Links the console handles itself; any other (the API docs) is a normal page load. */
const CONSOLE_LINK = new RegExp(`^(/|${PAGE_PATHS.join('|')})([?#]|$)`)

/** Loads who is signed in whenever there is a token but no person yet (a reload, a fresh log-in). */
function SessionLoader() {
  const token = sessionToken.value
  useEffect(() => {
    if (token && !me.value) void loadMe().catch(() => undefined)
  }, [token])
  return null
}

export function App() {
  return (
    <LocationProvider scope={CONSOLE_LINK}>
      <SessionLoader />
      <a class='skip' href='#main'>Skip to content</a>
      <Header />
      <main id='main'>
        <Router>
          {[
            ...Object.entries(ROUTES).map(([path, page]) => <Route key={path} path={path} component={page} />),
            <Route key='404' default component={NotFoundPage} />
          ]}
        </Router>
      </main>
    </LocationProvider>
  )
}
