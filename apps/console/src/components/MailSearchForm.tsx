import { useEffect, useState } from 'preact/hooks'

/** One box for both: an address (it has an `@`) or a message id. */
export function MailSearchForm({ query, onSearch }: { query: string; onSearch: (query: string) => void }) {
  const [value, setValue] = useState(query)
  useEffect(() => setValue(query), [query])
  return (
    <form
      class='search' role='search' aria-label='Mail'
      onSubmit={(e) => { e.preventDefault(); if (value.trim()) onSearch(value.trim()) }}
    >
      <p class='field'>
        <label for='mail-query'>Recipient address or message id</label>
        <span class='inline'>
          <input
            id='mail-query' name='q' type='search' required maxLength={254} value={value} placeholder='ada@example.com'
            onInput={(e) => setValue(e.currentTarget.value)}
          />
          <button type='submit'>Search</button>
        </span>
      </p>
    </form>
  )
}
