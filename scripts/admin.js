#!/usr/bin/env node
// @ts-check
'use strict'
// `npm run admin -- <command>`: the api's operator CLI (apps/api/src/admin/cli.ts).
require('./lib/api-cli').runApiCli('admin/cli.js')
