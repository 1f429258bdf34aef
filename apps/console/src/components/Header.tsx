import { useLocation } from 'preact-iso/router'
import { me, logOut } from '../session/session'
import { sessionToken } from '../session/token'

function NavLink({ href, label }: { href: string; label: string }) {
  const { path } = useLocation()
  return <a href={href} aria-current={path === href ? 'page' : undefined}>{label}</a>
}

/** The bar on every page: where one can go, and who is signed in. */
export function Header() {
  const { route } = useLocation()
  const user = me.value
  const signedIn = Boolean(sessionToken.value)
  return (
    <header class='top'>
      <a class='brand' href='/'>socialnet console</a>
      <nav aria-label='Main'>
        {signedIn
          ? <>
            <NavLink href='/timeline' label='My timeline' />
            <NavLink href='/profile' label='Profile' />
            <NavLink href='/jobs' label='Jobs' />
            {user?.role === 'admin' && <NavLink href='/admin' label='Admin' />}
            {user?.role === 'admin' && <NavLink href='/mail' label='Mail' />}
          </>
          : <>
            <NavLink href='/register' label='Register' />
            <NavLink href='/login' label='Log in' />
          </>}
        <a href='/docs'>API docs</a>
      </nav>
      {signedIn && (
        <p class='who'>
          {user && <span>Signed in as <strong>{user.nickname}</strong></span>}
          <button type='button' onClick={async () => { await logOut(); route('/login') }}>Log out</button>
        </p>
      )}
    </header>
  )
}
