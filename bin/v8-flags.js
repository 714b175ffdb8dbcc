// V8 settings bin/larder.js applies before it compiles anything (issue 14). CommonJS, as bin/larder.js.
'use strict';
const v8 = require('node:v8');

/**
 * V8 allocation-site pretenuring is off. V8 allocates an object literal's objects straight into the old generation once
 * most of them outlive a young-generation collection. A server's in-flight request objects live about as long as one
 * such interval: a process that loaded thousands of documents through first reads under HTTP/2 load had a per-read
 * site pretenured, and from then on each read's young objects were held from the old generation and promoted (5x the
 * promoted bytes, twice as long a scavenge, ~12 % more CPU a read, for the life of the process). An operator's own Node
 * option naming the setting wins.
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
