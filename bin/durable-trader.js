#!/usr/bin/env node
'use strict';
// The package bin (`npx durable-trader ...`): the TypeScript CLI run in this process through tsx's require hook,
// so stdout carries only what the command prints (no npm banner), and --json output is one JSON document.
require('tsx/cjs');
require('../clients/cli/main.ts').main();
