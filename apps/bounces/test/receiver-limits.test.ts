import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { bouncesTestbed, type BouncesTestbed } from './harness'

/** Opens a raw SMTP connection and resolves with it and the server's first line. */
async function greeting(port: number): Promise<{ socket: Socket; line: string }> {
  const socket = connect(port, '127.0.0.1')
  socket.setEncoding('utf8')
  const [data] = await once(socket, 'data') as [string]
  return { socket, line: data.split('\r\n')[0]! }
}

describe('bounce receiver limits', () => {
  let bed: BouncesTestbed

  beforeAll(async () => {
    bed = await bouncesTestbed({ EVENTS: 'off' }, { maxClients: 2 })
  })

  afterAll(async () => {
    await bed.cleanup()
  })

  test('past maxClients a connection is told 421; once one leaves, the next is served again', async () => {
    const first = await greeting(bed.service.smtpPort)
    const second = await greeting(bed.service.smtpPort)
    expect(first.line).toMatch(/^220 .*ESMTP socialnet bounce receiver/)
    expect(second.line).toMatch(/^220 /)
    const third = await greeting(bed.service.smtpPort)
    expect(third.line).toMatch(/^421 /)
    third.socket.destroy()

    first.socket.end('QUIT\r\n')
    await once(first.socket, 'close')
    const fourth = await greeting(bed.service.smtpPort)
    expect(fourth.line).toMatch(/^220 /)
    for (const { socket } of [second, fourth]) {
      socket.end('QUIT\r\n')
      await once(socket, 'close')
    }
  })

  test('EHLO offers SIZE and neither AUTH nor STARTTLS', async () => {
    const { socket } = await greeting(bed.service.smtpPort)
    socket.write('EHLO client.example.com\r\n')
    let reply = ''
    while (!/^250 /m.test(reply)) reply += (await once(socket, 'data'))[0] as string
    expect(reply).toMatch(/^250[- ]SIZE 1048576\r$/m)
    expect(reply).not.toMatch(/AUTH|STARTTLS/)
    socket.end('QUIT\r\n')
    await once(socket, 'close')
  })
})
