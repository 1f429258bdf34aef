/**
 * The floor the avatar upload is measured against: a bare Fastify route with
 * the same @fastify/multipart limits that streams the file part straight to
 * a file on disk. No auth, no decoding, no re-encoding, no database.
 */
import { randomUUID } from 'node:crypto'
import { createWriteStream, mkdirSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import multipart from '@fastify/multipart'
import Fastify from 'fastify'

const dir = process.env.STORAGE_DIR
if (!dir) throw new Error('STORAGE_DIR must be set')
mkdirSync(dir, { recursive: true })
const app = Fastify({ logger: { level: process.env.LOG_LEVEL || 'warn' } })
void app.register(multipart, { limits: { fileSize: Number(process.env.UPLOAD_MAX_BYTES || 10485760), files: 1 }, throwFileSizeLimit: true })
app.get('/health', async () => ({ status: 'ok' }))
app.put('/raw', async (request, reply) => {
  const part = await request.file()
  if (!part) return reply.code(400).send({ error: 'no file part' })
  const path = join(dir, randomUUID())
  await pipeline(part.file, createWriteStream(path))
  unlinkSync(path)
  return reply.code(201).send({ ok: true })
})
void app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
