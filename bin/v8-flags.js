// V8 settings bin/larder.js applies before it compiles anything (issue 14). CommonJS, as bin/larder.js.
'use strict';
const v8 = require('node:v8');

/**
 * V8 allocation-site pretenuring is off. V8 allocates an object literal's objects straight into the old generation once
 * most of them outlive a young-generation collection. A server's in-flight request objects live about as long as one
 * such interval, so while first reads are loaded from the database, the sites of Node's per-stream objects got
 * pretenured. From then on, each read's young objects were held from the old generation and promoted: 5x the promoted
 * bytes, twice as long a scavenge, 10–25 % more CPU a read in that process for good (a Node process's "fast or slow
 * steady state" of the benchmarks). An operator's own Node option naming the setting wins.
 */
const PRETENURING = 'allocation-site-pretenuring';

/** The V8 flags to set in this process, given its Node options (`process.execArgv`, `NODE_OPTIONS`). */
function larderV8Flags(execArgv, nodeOptions) {
  const named = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((arg) => arg.replace(/_/g, '-').includes(PRETENURING));
  return named ? [] : [`--no-${PRETENURING}`];
}

/**
 * Sets them. Before any code is compiled: they are part of V8's flag hash, which names bin/larder.js's code caches
 * (`v8.cachedDataVersionTag()`), so a start and the build's trained start must agree.
 */
function applyLarderV8Flags() {
  for (const flag of larderV8Flags(process.execArgv, process.env.NODE_OPTIONS)) v8.setFlagsFromString(flag);
}

module.exports = { larderV8Flags, applyLarderV8Flags };
