import { useEffect, useState } from 'preact/hooks'
import { api, ApiError } from '../api/client'
import type { Avatar, Me, UploadLimits } from '../api/types'
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
              <li key={size}><img src={avatar.thumbnails.urls[size]} alt={`${size} px thumbnail`} width={Number(size)} height={Number(size)} /><span>{size} px</span></li>
            ))}
            </ul>
          : <p role='status' aria-busy='true'>Thumbnails ({sizes.join(' and ')} px) are being made by the worker…</p>}
      </figcaption>
    </figure>
  )
}

/** "10 MiB", "512 KiB", "900 bytes": a size limit as the server counts it (binary units). */
function sizeInWords(bytes: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`
  }
  return `${bytes} bytes`
}

/** "JPEG, PNG or WebP": the format names as a sentence says them. */
function formatNames(limits: UploadLimits): string {
  const names = limits.formats.map((f) => f.name)
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names.join('')
}

/** Why the picked file will not be taken, before a byte of it is sent; null when it may be uploaded. */
function refusal(file: File, limits: UploadLimits | null): Error | null {
  if (!limits || file.size <= limits.maxBytes) return null
  return new Error(`This file is ${sizeInWords(file.size)}; the largest image the server takes is ${sizeInWords(limits.maxBytes)}. Choose a smaller one.`)
}

/** Upload an avatar (`PUT /v1/users/{id}/avatar`, field `image`) and watch its thumbnails appear. */
export function AvatarPanel({ user }: { user: Me }) {
  const [avatar, setAvatar] = useState<Avatar | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  // The server's own limits: the picker offers its formats, and a file too big is refused here, not after uploading it.
  const [limits, setLimits] = useState<UploadLimits | null>(null)
  const path = `/v1/users/${user.id}/avatar`
  useEffect(() => { api.get<UploadLimits>('/v1/images/limits').then(setLimits, () => undefined) }, [])

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
    const refused = refusal(file, limits)
    if (refused) {
      setError(refused)
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
          <label for='avatar-file'>{limits ? `Image (${formatNames(limits)}, up to ${sizeInWords(limits.maxBytes)})` : 'Image'}</label>
          <input
            id='avatar-file' name='image' type='file' required
            accept={limits ? limits.formats.map((f) => f.mediaType).join(',') : 'image/*'}
            onChange={(event) => {
              const file = event.currentTarget.files?.[0]
              setError(file ? refusal(file, limits) : null)
            }}
          />
        </p>
        <ErrorMessage error={error} />
        <button type='submit' disabled={busy}>{busy ? 'Uploading…' : 'Upload avatar'}</button>
      </form>
    </section>
  )
}
