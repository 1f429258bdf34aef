import { useEffect, useState } from 'preact/hooks'
import { api } from '../api/client'
import type { Suppression, SuppressionList } from '../api/types'
import { ErrorMessage, Notice, formValues } from './Form'
import { REASON_TEXT, suppressionPath } from './SuppressionState'
import { Time } from './Time'

function SuppressionRow({ suppression: s, busy, onOpen, onRemove }: { suppression: Suppression; busy: boolean; onOpen: (address: string) => void; onRemove: (address: string) => void }) {
  return (
    <tr data-address={s.address}>
      <td><button type='button' class='link' onClick={() => onOpen(s.address)} title='Show the mail to this address'>{s.address}</button></td>
      <td>{REASON_TEXT[s.reason]}<small> ({s.source})</small>{s.detail && <div class='detail'><small>{s.detail}</small></div>}</td>
      <td class='nowrap'><Time at={s.lastSeenAt} /></td>
      <td class='number'>{s.count}</td>
      <td><button type='button' class='secondary' disabled={busy} onClick={() => onRemove(s.address)} aria-label={`Remove ${s.address}`}>Remove</button></td>
    </tr>
  )
}

/** Adds an address by hand, with an optional note kept for the next operator. */
function SuppressAddressForm({ busy, onAdd }: { busy: boolean; onAdd: (address: string, note: string) => Promise<boolean> }) {
  return (
    <form
      class='inline-form' aria-label='Suppress an address' onSubmit={async (e) => {
        e.preventDefault()
        const form = e.currentTarget
        const { address = '', note = '' } = formValues(form)
        if (await onAdd(address.trim(), note.trim())) form.reset()
      }}
    >
      <p class='field'>
        <label for='suppress-address'>Address to suppress</label>
        <input id='suppress-address' name='address' type='email' required maxLength={254} placeholder='someone@example.com' />
      </p>
      <p class='field grow'>
        <label for='suppress-note'>Note <small>(optional)</small></label>
        <input id='suppress-note' name='note' maxLength={500} placeholder='why, for the next operator' />
      </p>
      <p class='field'><button type='submit' disabled={busy}>Suppress</button></p>
    </form>
  )
}

/**
 * The suppression list (`GET /v1/admin/suppressions`) a page at a time, with
 * **Remove** per address and a form to add one. A change calls `onChange`; the
 * list reads again when `version` changes (here or from a search above).
 */
export function SuppressionListPanel({ version, onOpen, onChange }: { version: number; onOpen: (address: string) => void; onChange: () => void }) {
  const [list, setList] = useState<SuppressionList | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const load = () => api.get<SuppressionList>('/v1/admin/suppressions').then((body) => { setList(body); setError(null) }, setError)
  useEffect(() => { void load() }, [version])

  async function act(run: () => Promise<string>): Promise<boolean> {
    setBusy(true)
    setError(null)
    setNotice(null)
    try {
      setNotice(await run())
      onChange()
      return true
    } catch (err) {
      setError(err)
      return false
    } finally {
      setBusy(false)
    }
  }
  const add = (address: string, note: string) => act(async () => {
    const added = await api.put<Suppression>(suppressionPath(address), note ? { body: { note } } : {})
    return added.reason === 'manual' && added.count === 1 ? `${added.address} is suppressed.` : `${added.address} was already suppressed (${REASON_TEXT[added.reason]}).`
  })
  const remove = (address: string) => act(async () => {
    await api.delete(suppressionPath(address))
    return `Suppression of ${address} lifted.`
  })
  async function more() {
    if (!list?.nextCursor) return
    try {
      const page = await api.get<SuppressionList>(`/v1/admin/suppressions?cursor=${encodeURIComponent(list.nextCursor)}`)
      setList({ suppressions: [...list.suppressions, ...page.suppressions], nextCursor: page.nextCursor })
    } catch (err) {
      setError(err)
    }
  }

  return (
    <section aria-labelledby='suppressions-heading'>
      <h2 id='suppressions-heading'>Suppression list</h2>
      <p class='hint'>The mailers send nothing to these addresses. A hard bounce, three soft bounces in a week or one complaint puts an address here.</p>
      <SuppressAddressForm busy={busy} onAdd={add} />
      <ErrorMessage error={error} />
      {notice && <Notice>{notice}</Notice>}
      {list && list.suppressions.length === 0 && <p class='empty'>No address is suppressed.</p>}
      {list && list.suppressions.length > 0 && (
        <table aria-label='Suppressed addresses'>
          <thead>
            <tr><th scope='col'>Address</th><th scope='col'>Reason</th><th scope='col'>Last seen</th><th scope='col' class='number'>Count</th><th scope='col'><span class='visually-hidden'>Action</span></th></tr>
          </thead>
          <tbody>
            {list.suppressions.map((s) => <SuppressionRow key={s.address} suppression={s} busy={busy} onOpen={onOpen} onRemove={remove} />)}
          </tbody>
        </table>
      )}
      {list?.nextCursor && <button type='button' class='secondary' onClick={more}>More addresses</button>}
    </section>
  )
}
