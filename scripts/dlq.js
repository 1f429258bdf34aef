#!/usr/bin/env node
// @ts-check
'use strict'
// `npm run dlq -- <command> <queue>`: dead-letter tooling (apps/api/src/admin/dlq-cli.ts).
require('./lib/api-cli').runApiCli('admin/dlq-cli.js')
