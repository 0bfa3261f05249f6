#!/usr/bin/env node
// The `agenthub` command line: TypeScript run through @swc-node/register (it emits the decorator metadata
// NestJS needs for constructor injection), with the worker's tsconfig (path aliases to libs/db).
const path = require('node:path');
process.env.SWC_NODE_PROJECT ??= path.join(__dirname, '..', 'tsconfig.json');
require('@swc-node/register');
require('../src/cli.ts');
