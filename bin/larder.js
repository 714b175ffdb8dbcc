#!/usr/bin/env node
// The `larder` command: runs the compiled CLI (npm ci builds it through `prepare`).
import { main } from '../dist/cli/main.js';

await main(process.argv);
