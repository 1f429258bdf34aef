import { useEffect, useState } from 'preact/hooks'
import { api, ApiError } from '../api/client'
import type { Avatar, Me } from '../api/types'
import type { AnyEvent } from '../events/types'
import { isEvent } from '../events/types'
import { useEventStream } from '../streams/use-event-stream'
import { ErrorMessage } from './Form'

/** While thumbnails are pending and no event came, ask again this often (the event normally comes first). */
const PENDING_POLL_MS = 3000

/** The avatar and its thumbnails; "being made" until the worker's `image.thumbnails_made` arrives. */
function AvatarImages({ avatar }: { avatar: Avatar }) {
  const sizes = Object.keys(avatar.thumbnails.urls).sort((a, b) => Number(a) - Number(b))
  return (
    <figure class='avatar'>
      <img src={avatar.url} alt='Your avatar' class='original' />
      <figcaption>
        {avatar.thumbnails.status === 'ready'
          ? <ul class='thumbnails' aria-label='Thumbnails'>
            {sizes.map((size) => (
              <li key={size}><img src={avatar.thumbnails.urls[size]} alt={`${size} px thumbnail`} width={Math.min(Number(size), 128)} /><span>{size} px</span></li>
            ))}
            </ul>
          : <p role='status' aria-busy='true'>Thumbnails ({sizes.join(' and ')} px) are being made by the worker…</p>}
      </figcaption>
    </figure>
  )
}

/** Upload an avatar (`PUT /v1/users/{id}/avatar`, field `image`) and watch its thumbnails appear. */
export function AvatarPanel({ user }: { user: Me }) {
  const [avatar, setAvatar] = useState<Avatar | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const path = `/v1/users/${user.id}/avatar`

  const refresh = () => api.get<Avatar>(path).then(setAvatar, (err: unknown) => {
    if (!(err instanceof ApiError && err.status === 404)) setError(err)
  })
  useEffect(() => { void refresh() }, [user.id])

  // The worker's event says the thumbnails exist; the slow poll covers a stream that is down.
  useEventStream('/v1/events', (event: AnyEvent) => {
    if (isEvent(event, 'image.thumbnails_made') && event.data.imageId === avatar?.id) void refresh()
  })
  const pending = avatar?.thumbnails.status === 'pending'
  useEffect(() => {
    if (!pending) return undefined
    const timer = setInterval(() => { void refresh() }, PENDING_POLL_MS)
    return () => clearInterval(timer)
  }, [pending, avatar?.id])

  async function upload(event: SubmitEvent) {
    event.preventDefault()
    const element = event.currentTarget as HTMLFormElement
    const form = new FormData(element)
    const file = form.get('image')
    if (!(file instanceof File) || file.size === 0) {
      setError(new Error('Choose an image file first.'))
      return
    }
    setBusy(true)
    setError(null)
    try {
      setAvatar(await api.put<Avatar>(path, { form }))
      element.reset()
    } catch (err) {
      setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section aria-labelledby='avatar-heading'>
      <h2 id='avatar-heading'>Avatar</h2>
      {avatar ? <AvatarImages avatar={avatar} /> : <p class='empty'>No avatar yet.</p>}
      <form onSubmit={upload} aria-label='Upload an avatar'>
        <p class='field'>
          <label for='avatar-file'>Image (JPEG, PNG or WebP, up to 10 MiB)</label>
          <input id='avatar-file' name='image' type='file' accept='image/jpeg,image/png,image/webp,image/gif' required />
        </p>
        <ErrorMessage error={error} />
        <button type='submit' disabled={busy}>{busy ? 'Uploading…' : 'Upload avatar'}</button>
      </form>
    </section>
  )
}
