import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { ChannelModel } from 'amqplib'
import { declareTopology, deleteTopology, topology } from '@socialnet/broker'
import { connectAmqp } from '@socialnet/testing'
import { AMQP_URL, testPrefix } from '../mail-queue'

const ROOT = join(__dirname, '..', '..', '..', '..')
const CLI_JS = join(ROOT, 'apps', 'api', 'dist', 'admin', 'dlq-cli.js')

interface CliResult { code: number; stdout: string; stderr: string }

/** Runs a script the way an operator does, with the api's broker env. */
function run(script: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr })
    })
  })
}

describe('npm run dlq (dist/admin/dlq-cli.js) against a real broker', () => {
  const prefix = testPrefix()
  const names = topology(prefix)
  const env = { AMQP_URL, AMQP_PREFIX: prefix }
  const dlq = (args: string[]) => run(CLI_JS, args, env)
  let raw: ChannelModel

  beforeAll(async () => {
    if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} is missing: run npm run build first`)
    raw = await connectAmqp(AMQP_URL)
    const channel = await raw.createConfirmChannel()
    await declareTopology(channel, names)
    for (const [id, reason] of [['m-1', 'SMTP refused the mail: 550 Relaying denied'], ['m-2', 'failed 6 attempts, last: connection refused']] as const) {
      channel.sendToQueue(names.queues.mail.dlq, Buffer.from(JSON.stringify({ to: `${id}@example.com`, subject: 's', text: 't' })), {
        persistent: true,
        messageId: id,
        type: 'mail.send.v1',
        contentType: 'application/json',
        headers: { 'x-attempt': id === 'm-1' ? 1 : 6, 'x-failure-kind': id === 'm-1' ? 'permanent' : 'exhausted', 'x-failure-reason': reason, 'x-failed-at': '2026-12-01T10:00:00.000Z', 'x-first-failed-at': '2026-12-01T09:00:00.000Z', 'x-failure-queue': names.queues.mail.name }
      })
    }
    await channel.waitForConfirms()
    await channel.close()
  })

  afterAll(async () => {
    const channel = await raw.createChannel()
    await deleteTopology(channel, names)
    await raw.close()
  })

  test('list and peek show why each message failed, and lose none', async () => {
    const listed = await dlq(['list', 'mail'])
    expect(listed.code).toBe(0)
    expect(listed.stdout).toContain(`${names.queues.mail.dlq}: 2 dead letter(s)`)
    expect(listed.stdout).toMatch(/m-1\s+mail\.send\.v1\s+permanent\s+1\s+2026-12-01T09:00:00\.000Z\s+2026-12-01T10:00:00\.000Z\s+SMTP refused the mail: 550 Relaying denied/)
    expect(listed.stdout).toMatch(/m-2\s+mail\.send\.v1\s+exhausted\s+6 /)

    const peeked = await dlq(['peek', 'mail', '--json', '--limit', '1'])
    expect(peeked.code).toBe(0)
    const body = JSON.parse(peeked.stdout) as { total: number; messages: Array<{ messageId: string; preview: string }> }
    expect(body.total).toBe(2)
    expect(body.messages).toEqual([expect.objectContaining({ messageId: 'm-1', preview: expect.stringContaining('m-1@example.com') })])
    // Both still there after three reads.
    const again = await dlq(['list', 'mail'])
    expect(again.stdout).toContain(`${names.queues.mail.dlq}: 2 dead letter(s)`)
    expect(again.stdout).toMatch(/m-1 .*\n.*m-2 |m-2 .*\n.*m-1 /)
  })

  test('a reader that closes the pipe early (| head -1, | true) ends the listing quietly, exit 0', async () => {
    const piped = await new Promise<CliResult>((resolve) => {
      execFile('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${CLI_JS}" peek mail | true`], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr })
      })
    })
    expect(piped).toEqual({ code: 0, stdout: '', stderr: '' })
  })

  test('show prints one dead letter in full (binary as a hex dump); delete removes just that one; both audit-logged', async () => {
    const shown = await dlq(['show', 'mail', '--id', 'm-1'])
    expect(shown.code).toBe(0)
    expect(shown.stdout).toMatch(/^messageId +m-1\ntype +mail\.send\.v1\nkind +permanent\nreason +SMTP refused the mail: 550 Relaying denied\n/)
    expect(shown.stdout).toContain('  x-failure-reason: "SMTP refused the mail: 550 Relaying denied"')
    expect(shown.stdout).toContain('  contentType: "application/json"')
    expect(shown.stdout).toContain('body (49 bytes, text):\n{"to":"m-1@example.com","subject":"s","text":"t"}\n')
    expect(shown.stderr).toMatch(/^dlq: dead letter shown: m-1 of .*mail\.dlq to cli:/)

    // A poison message: an escape sequence and bytes that are not UTF-8 never reach the terminal raw.
    const channel = await raw.createConfirmChannel()
    channel.sendToQueue(names.queues.mail.dlq, Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0xff, 0x00, 0x41]), { persistent: true, messageId: 'b-1' })
    await channel.waitForConfirms()
    await channel.close()
    const binary = await dlq(['show', 'mail', '--id', 'b-1'])
    expect(binary.stdout).toContain('body (7 bytes, binary or not UTF-8):\n00000000  1b 5b 32 4a ff 00 41' + ' '.repeat(27) + '  |.[2J..A|\n')
    expect(binary.stdout).not.toContain('\u001b')
    expect(JSON.parse((await dlq(['show', 'mail', '--id', 'b-1', '--json'])).stdout)).toMatchObject({ queue: 'mail', body: { encoding: 'base64', data: 'G1sySv8AQQ==', bytes: 7, truncated: false } })

    const deleted = await dlq(['delete', 'mail', '--id', 'b-1'])
    expect(deleted).toMatchObject({ code: 0, stdout: 'deleted b-1 of mail (no type: unknown); 2 dead letter(s) left\n' })
    expect(deleted.stderr).toMatch(/^dlq: dead letter deleted: b-1 from .*mail\.dlq by cli:/)
    expect(await dlq(['delete', 'mail', '--id', 'b-1'])).toMatchObject({ code: 1, stderr: `dlq: no dead letter with messageId "b-1" in ${names.queues.mail.dlq} (the first 500 looked at)\n` })
    expect(await dlq(['show', 'mail', '--id', 'nope'])).toMatchObject({ code: 1 })
    expect((await dlq(['list', 'mail'])).stdout).toContain(': 2 dead letter(s)')
  })

  test('replay --dry-run moves nothing; replay --id moves that one (exit 1 for an id not found); purge', async () => {
    const dry = await dlq(['replay', 'mail', '--id', 'm-2', '--dry-run'])
    expect(dry).toMatchObject({ code: 0, stdout: expect.stringContaining('would replay 1 message(s) to mail: m-2') })
    expect(dry.stdout).toContain('2 dead letter(s) left')

    const replayed = await dlq(['replay', 'mail', '--id', 'm-2', '--id', 'nope'])
    expect(replayed.code).toBe(1)
    expect(replayed.stdout).toContain('replayed 1 message(s) to mail: m-2')
    expect(replayed.stdout).toContain('not found: nope')
    // m-1 was looked at while searching for nope: still a dead letter, and counted as one.
    expect(replayed.stdout).toContain('1 dead letter(s) left')
    expect(replayed.stderr).toMatch(/dlq: dead letters replayed: 1 from .* by cli:/)
    const channel = await raw.createChannel()
    const back = await channel.get(names.queues.mail.name, { noAck: true })
    await channel.close()
    expect(back && back.properties.messageId).toBe('m-2')
    const headers = (back as { properties: { headers: Record<string, unknown> } }).properties.headers
    expect(headers['x-redriven']).toEqual({ at: expect.any(String), by: expect.stringMatching(/^cli:/) })
    expect(headers['x-attempt']).toBeUndefined()
    expect(headers['x-failure-reason']).toBeUndefined()

    const purged = await dlq(['purge', 'mail', '--json'])
    expect(purged.code).toBe(0)
    expect(JSON.parse(purged.stdout)).toEqual({ queue: 'mail', purged: 1 })
    expect((await dlq(['list', 'mail'])).stdout).toContain(': 0 dead letter(s)')
  })

  test('usage errors exit 2, an unknown queue or an unreachable broker exit 1, each with one clear line', async () => {
    const none = await dlq([])
    expect(none.code).toBe(2)
    expect(none.stdout).toContain('usage: npm run dlq')
    expect(await dlq(['replay', 'mail'])).toMatchObject({ code: 2, stderr: expect.stringContaining('replay needs either --all or one or more --id') })
    expect(await dlq(['list', 'mail', '--all'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--id belongs to replay, show and delete; --all and --dry-run to replay') })
    for (const args of [['show', 'mail'], ['delete', 'mail', '--id', 'a', '--id', 'b'], ['delete', 'mail', '--all'], ['delete', 'mail', '--id', 'a', '--dry-run']]) {
      expect(await dlq(args)).toMatchObject({ code: 2, stderr: expect.stringContaining(`${args[0]} needs exactly one --id <messageId>`) })
    }
    expect(await dlq(['list', 'mail', '--limit', '0'])).toMatchObject({ code: 2 })
    expect(await dlq(['list', 'orders'])).toMatchObject({ code: 1, stderr: 'dlq: no work queue named "orders"; the work queues are mail, jobs and thumbnails\n' })
    const bad = await run(CLI_JS, ['list', 'mail'], { AMQP_URL: 'ftp://nowhere', AMQP_PREFIX: prefix })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/^dlq: invalid environment: .*AMQP_URL/)
    // The root script runs the same built file.
    const help = await run(join(ROOT, 'scripts', 'dlq.js'), ['--help'], env)
    expect(help).toMatchObject({ code: 0, stdout: expect.stringContaining('replay <queue> --all [--dry-run]') })
  })
})
