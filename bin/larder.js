#!/usr/bin/env node
// The `larder` command: runs the compiled CLI, bundled into one file by `npm run build` (npm ci builds it
// through `prepare`) so a start reads one file instead of resolving ~1,000 modules.
import { main } from '../dist/bundle/larder.js';

await main(process.argv);
