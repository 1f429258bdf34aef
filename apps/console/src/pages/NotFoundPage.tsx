import { useLocation } from 'preact-iso/router'

/** Any other path: the api answers a browser there with this page and status 404. */
export function NotFoundPage() {
  const { path } = useLocation()
  return (
    <>
      <h1>No such page</h1>
      <p>There is nothing at <code>{path}</code>: the link may be mistyped or out of date.</p>
      <p><a href='/'>Back to the start</a></p>
    </>
  )
}
