import type { IncomingHttpHeaders } from 'node:http';
import type { IncomingHttpHeaders as Http2Headers } from 'node:http2';
import { randomUUID } from 'node:crypto';
import { JSON_PLAIN_CHARS } from './access-line.js';

declare const plainId: unique symbol;
/**
 * A request id as Larder answers and logs it: 1–200 printable ASCII characters, none of them `"` or `\`. The access
 * log writes it into its JSON line as it is: looking at each id's characters cost ~0.25 µs a read (a generated id is
 * a concatenation, which V8 copies into one string to read it), more than the rest of the line (issue 14).
 */
export type RequestId = string & { readonly [plainId]: true };

/** An incoming `x-request-id` Larder keeps (a front's, to follow a request through both logs); any other gets a new one. */
const KEPT_ID = new RegExp(`^[${JSON_PLAIN_CHARS}]{1,200}$`);

// A random UUID's first 24 characters (version and variant included), then a 12-digit hex counter: unique across
// processes and nodes through the 74 random bits, and within a process through the counter. randomUUID per request
// cost ~0.2 µs on every index read (its entropy cache refills with a system call).
let prefix = randomUUID().slice(0, 24);
let counter = 0;
const COUNTER_LIMIT = 0xffff_ffff_ffff;
// The counter's last three hex digits from a table, the first nine made once per 4096 ids: a number's hex text
// (`toString(16)` is a runtime call) and its padding cost more than the rest of an index read's headers.
const LOW = Array.from({ length: 4096 }, (_, i) => i.toString(16).padStart(3, '0'));
let high = '';

/** A request id in UUID form, for a request that did not bring its own `x-request-id`. */
export function nextRequestId(): RequestId {
  if (++counter > COUNTER_LIMIT) {
    prefix = randomUUID().slice(0, 24);
    counter = 1;
    high = '';
  }
  const low = counter % 4096;
  if (low === 0 || high === '')
    high =
      prefix +
      Math.floor(counter / 4096)
        .toString(16)
        .padStart(9, '0');
  return (high + LOW[low]) as RequestId;
}

/**
 * The id a request is answered and logged with: the client's own `x-request-id` (a proxy's, to follow a request
 * through) when it is a `RequestId`'s characters, or a new one.
 */
export function requestIdOf(headers: IncomingHttpHeaders | Http2Headers): RequestId {
  const incoming = headers['x-request-id'];
  return typeof incoming === 'string' && KEPT_ID.test(incoming) ? (incoming as RequestId) : nextRequestId();
}
