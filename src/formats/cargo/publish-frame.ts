import { Readable } from 'node:stream';
import { LarderError } from '../../core/errors.js';
import { formatSize } from '../../core/units.js';

export interface PublishFrameLimits {
  maxMetadataSize: number;
  maxCrateSize: number;
}

export interface PublishFrame {
  metadataJson: Buffer;
  crateLength: number;
  /** the .crate bytes, exactly crateLength of them; must be consumed */
  crate: Readable;
  /** resolves when the body ended exactly after the crate bytes; rejects (LarderError BODY_MALFORMED) if bytes are missing or trail */
  done: Promise<void>;
}

const RETRY = 'the upload was cut off; retry `cargo publish`';

/**
 * Reads `u32le json_len, json, u32le crate_len, crate` from the request body. Only the metadata is
 * buffered; the crate streams. On rejection the body is left flowing so the HTTP layer can still answer.
 */
export async function readPublishFrame(body: Readable, limits: PublishFrameLimits, contentLength?: number): Promise<PublishFrame> {
  const source = new BodySource(body);
  try {
    const jsonLength = (await source.readExact(4, 'the metadata length')).readUInt32LE(0);
    if (jsonLength > limits.maxMetadataSize) {
      throw new LarderError(
        'BODY_TOO_LARGE',
        `the publish metadata is ${formatSize(jsonLength)}, more than this registry's limit of ${formatSize(limits.maxMetadataSize)}; shorten the README or description`,
      );
    }
    const metadataJson = await source.readExact(jsonLength, 'the metadata JSON');
    const crateLength = (await source.readExact(4, 'the .crate length')).readUInt32LE(0);
    if (crateLength > limits.maxCrateSize) {
      throw new LarderError(
        'BODY_TOO_LARGE',
        `the .crate is ${formatSize(crateLength)}, more than this registry's limit of ${formatSize(limits.maxCrateSize)}; exclude files from the package (see \`cargo package --list\`)`,
      );
    }
    const total = 8 + jsonLength + crateLength;
    if (contentLength !== undefined && contentLength !== total) {
      throw new LarderError(
        'BODY_MALFORMED',
        `the publish body is ${contentLength} bytes but its length fields add up to ${total}; the request was not framed the way cargo frames it`,
      );
    }
    return { metadataJson, crateLength, ...streamCrate(source, crateLength, total) };
  } catch (err) {
    source.release();
    throw err;
  }
}

/** Hands out the body's bytes in order, pulling only when asked so backpressure reaches the socket. */
class BodySource {
  received = 0;
  private leftover: Buffer | null = null;
  private ended = false;
  private closed = false;
  private failure: unknown = undefined;
  /** Called whenever the body may have something new to say. */
  onChange: () => void = () => {};

  private readonly notify = () => this.onChange();
  private readonly onEnd = () => {
    this.ended = true;
    this.onChange();
  };
  private readonly onError = (err: unknown) => {
    this.failure ??= err;
    this.onChange();
  };
  private readonly onClose = () => {
    this.closed = true;
    this.onChange();
    this.body.off('error', this.onError).off('close', this.onClose);
  };

  constructor(private readonly body: Readable) {
    body.on('readable', this.notify).on('end', this.onEnd).on('error', this.onError).on('close', this.onClose);
  }

  get broken(): boolean {
    return !this.ended && (this.failure !== undefined || this.closed);
  }

  /** A chunk of at most `max` bytes, null at the end of the body, undefined if nothing is available yet. */
  take(max: number): Buffer | null | undefined {
    let chunk = this.leftover;
    this.leftover = null;
    if (chunk === null && !this.ended && this.failure === undefined) {
      const read: unknown = this.body.read();
      if (read !== null) chunk = Buffer.isBuffer(read) ? read : Buffer.from(read as Uint8Array);
    }
    if (chunk === null) {
      if (this.ended) return null;
      if (this.failure !== undefined || this.closed) throw this.cutOff(this.failure);
      return undefined;
    }
    if (chunk.length > max) {
      this.leftover = chunk.subarray(max);
      chunk = chunk.subarray(0, max);
    }
    this.received += chunk.length;
    return chunk;
  }

  async readExact(length: number, what: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let missing = length;
    while (missing > 0) {
      const chunk = this.take(missing);
      if (chunk === null) {
        throw new LarderError(
          'BODY_MALFORMED',
          `the publish body ended after ${this.received} bytes, in ${what} (${length - missing} of ${length} bytes); ${RETRY}`,
        );
      }
      if (chunk === undefined) {
        await new Promise<void>((resolve) => {
          this.onChange = resolve;
        });
        continue;
      }
      chunks.push(chunk);
      missing -= chunk.length;
    }
    return Buffer.concat(chunks, length);
  }

  cutOff(cause: unknown, expected?: number): LarderError {
    const why = cause === undefined ? '' : ` (${(cause as Error)?.message ?? String(cause)})`;
    const of = expected === undefined ? '' : ` but its length fields add up to ${expected}`;
    return new LarderError('BODY_MALFORMED', `the publish body ended after ${this.received} bytes${of}${why}; ${RETRY}`);
  }

  /** Stops listening (except for errors, until close) and lets the rest of the body drain. */
  release(): void {
    this.onChange = () => {};
    this.body.off('readable', this.notify).off('end', this.onEnd);
    if (!this.closed) this.body.resume();
  }
}

function streamCrate(source: BodySource, crateLength: number, total: number): Pick<PublishFrame, 'crate' | 'done'> {
  // crate: feeding the consumer; discard: consumer gave up, skip the declared rest;
  // tail: expecting the end of the body; settled: done has its answer.
  let mode: 'crate' | 'discard' | 'tail' | 'settled' = crateLength > 0 ? 'crate' : 'tail';
  let remaining = crateLength;
  let wanted = false;
  let settle!: (err?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err === undefined ? resolve() : reject(err));
  });
  // A consumer that abandoned the crate need not await done.
  done.catch(() => {});

  const crate = new Readable({
    read() {
      wanted = true;
      pump();
    },
    destroy(err, callback) {
      if (mode === 'crate') {
        mode = 'discard';
        pump();
      }
      callback(err);
    },
  });
  // Failures also reach done; this keeps an unattended crate stream from crashing the process.
  crate.on('error', () => {});
  if (crateLength === 0) crate.push(null);

  const finish = (err?: unknown) => {
    const feeding = mode === 'crate';
    mode = 'settled';
    source.release();
    // Trailing bytes do not spoil a crate stream that already got all its bytes; only done reports them.
    if (err !== undefined && feeding) crate.destroy(err as Error);
    settle(err);
  };

  const pump = () => {
    try {
      while (mode !== 'settled') {
        // Without demand, only go on to notice a broken body so the crate stream does not stall.
        if (mode === 'crate' && !wanted && !source.broken) return;
        const chunk = source.take(mode === 'tail' ? Infinity : remaining);
        if (chunk === undefined) return;
        if (chunk === null) {
          if (mode === 'tail') return finish();
          throw source.cutOff(undefined, total);
        }
        if (mode === 'tail') {
          if (chunk.length === 0) continue;
          throw new LarderError(
            'BODY_MALFORMED',
            `the publish body has bytes after the .crate (its length fields add up to ${total}); the request was not framed the way cargo frames it`,
          );
        }
        remaining -= chunk.length;
        if (mode === 'crate') wanted = crate.push(chunk);
        if (remaining === 0) {
          if (mode === 'crate') crate.push(null);
          mode = 'tail';
        }
      }
    } catch (err) {
      finish(err instanceof LarderError ? err : source.cutOff(err, total));
    }
  };
  source.onChange = pump;
  pump();
  return { crate, done };
}
