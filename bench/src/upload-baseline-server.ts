'use strict'
/**
 * The floor the avatar upload is measured against: a bare Fastify route with
 * the same @fastify/multipart limits that streams the file part straight to
 * a file on disk. No auth, no decoding, no re-encoding, no database.
 */
const Fastify = require('fastify')
const multipart = require('@fastify/multipart')
const { createWriteStream, mkdirSync, unlinkSync } = require('node:fs')
const { join } = require('node:path')
const { pipeline } = require('node:stream/promises')
const { randomUUID } = require('node:crypto')

const dir = process.env.STORAGE_DIR
mkdirSync(dir, { recursive: true })
const app = Fastify({ logger: { level: process.env.LOG_LEVEL || 'warn' } })
app.register(multipart, { limits: { fileSize: Number(process.env.UPLOAD_MAX_BYTES || 10485760), files: 1 }, throwFileSizeLimit: true })
app.get('/health', async () => ({ status: 'ok' }))
app.put('/raw', async (request, reply) => {
  const part = await request.file()
  const path = join(dir, randomUUID())
  await pipeline(part.file, createWriteStream(path))
  unlinkSync(path)
  return reply.code(201).send({ ok: true })
})
app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' })
