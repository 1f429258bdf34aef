import type { ComponentChildren, InputHTMLAttributes } from 'preact'
import { ApiError } from '../api/client'

type InputProps = InputHTMLAttributes<HTMLInputElement>

/** A labelled input; the label is what a person (and a screen reader, and the tests) look for. */
export function Field({ label, hint, ...input }: InputProps & { label: string; hint?: string }) {
  const id = `field-${String(input.name)}`
  return (
    <p class='field'>
      <label for={id}>{label}</label>
      <input id={id} {...input} aria-describedby={hint ? `${id}-hint` : undefined} />
      {hint && <small id={`${id}-hint`}>{hint}</small>}
    </p>
  )
}

/** What went wrong, in the API's words; field problems one per line. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null
  const message = error instanceof ApiError
    ? (error.details?.length ? error.details.map((d) => `${d.field} ${d.message}`) : [error.message])
    : [(error as Error).message ?? String(error)]
  return (
    <div class='error' role='alert'>
      {message.map((line) => <p key={line}>{line}</p>)}
    </div>
  )
}

/** A notice that is not an error. */
export function Notice({ children }: { children: ComponentChildren }) {
  return <div class='notice' role='status'>{children}</div>
}

/** The reading of a form's named fields as strings. */
export function formValues(form: HTMLFormElement): Record<string, string> {
  const values: Record<string, string> = {}
  new FormData(form).forEach((value, key) => { if (typeof value === 'string') values[key] = value })
  return values
}
