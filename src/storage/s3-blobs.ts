import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import type { LarderError } from '../core/errors.js';
import {
  blobStoreUnavailable,
  bounded,
  CHECK_TIMEOUT_MS,
  fsProblem,
  isS3AccessDenied,
  isS3NotFound,
  s3Problem,
  type BlobOperation,
} from './blob-errors.js';
import { SHA256_HEX, type BlobHandle, type BlobStore, type StagedBlob } from './blobs.js';
import { stageToFile } from './fs-blobs.js';
import { StagingDir } from './staging.js';

type S3 = typeof import('@aws-sdk/client-s3');

/** Where blobs go in S3-compatible storage, parsed from `s3://bucket/prefix?endpoint=…&region=…&path_style=true`. */
export interface S3Target {
  bucket: string;
  prefix: string;
  endpoint?: string;
  region: string;
  pathStyle: boolean;
}

/** Parses the `blobs` setting's s3:// form. Credentials come from the usual AWS environment. */
export function parseS3Url(url: string): S3Target {
  const u = new URL(url);
  if (u.protocol !== 's3:' || !u.hostname) throw new Error(`${url} is not s3://bucket[/prefix]`);
  return {
    bucket: u.hostname,
    prefix: u.pathname.replace(/^\/+|\/+$/g, ''),
    endpoint: u.searchParams.get('endpoint') ?? undefined,
    region: u.searchParams.get('region') ?? process.env.AWS_REGION ?? 'us-east-1',
    pathStyle: u.searchParams.get('path_style') === 'true',
  };
}

/**
 * How long the store may take. No setting fits ([timeouts] is for clients of Larder, [outbound] for upstreams), so
 * these are constants: an S3 endpoint answers a HEAD in milliseconds, and a publish commits its blob while its
 * database transaction is open (`uow.beforeCommit`), so a black-holed endpoint must fail the write within seconds,
 * not hold locks for the minutes the SDK would wait by default (no timeouts at all).
 */
export interface S3Timeouts {
  /** TCP (and TLS) connection setup, per attempt. */
  connectMs: number;
  /** A socket with no bytes moving either way: bounds uploads and downloads of any size without a total limit. */
  idleMs: number;
  /** HEAD, DELETE and one page of a listing, all attempts included. */
  requestMs: number;
  /** Attempts per request; the SDK retries connection errors, timeouts, 5xx and throttling. Uploads are streams and never retried. */
  maxAttempts: number;
}

export const S3_TIMEOUTS: S3Timeouts = { connectMs: 3_000, idleMs: 15_000, requestMs: 10_000, maxAttempts: 3 };

/** The SDK warns on the console when a streamed upload fails (it cannot retry one); the failure is reported as an error anyway. */
const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** An S3 client for `target` with Larder's timeouts, retries and checksum policy; `sdk` is the lazily loaded module. */
export function s3Client(sdk: typeof import('@aws-sdk/client-s3'), target: S3Target, limits: S3Timeouts = S3_TIMEOUTS): S3Client {
  // Checksums only where S3 requires them: the default aws-chunked uploads with trailing
  // checksums are not understood by every S3-compatible server (and would be stored as bytes).
  return new sdk.S3Client({
    region: target.region,
    endpoint: target.endpoint,
    forcePathStyle: target.pathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: limits.maxAttempts,
    requestHandler: { connectionTimeout: limits.connectMs, socketTimeout: limits.idleMs },
    logger: quietLogger,
  });
}

/**
 * Blobs in S3-compatible object storage, so several nodes share them. Uploads are staged in a
 * local temporary file (hashed while streaming) and put under their digest on commit.
 */
export class S3BlobStore implements BlobStore {
  /** How messages name the store: bucket, prefix and endpoint origin; never credentials or the setting's query string. */
  private readonly label: string;

  private constructor(
    private readonly sdk: S3,
    private readonly client: S3Client,
    private readonly target: S3Target,
    private readonly staging: StagingDir,
    private readonly timeouts: S3Timeouts,
  ) {
    const where = target.endpoint ? `at ${endpointOrigin(target.endpoint)}` : `(AWS, ${target.region})`;
    this.label = `the blob store s3://${target.bucket}${target.prefix ? `/${target.prefix}` : ''} ${where}`;
  }

  reapStaging(): Promise<number> {
    return this.staging.reap();
  }

  async close(): Promise<void> {
    await this.staging.close();
    this.client.destroy();
  }

  /**
   * Loads the AWS SDK only when S3 is configured (it is large, and warns on load). Nothing is asked of the endpoint
   * here, on purpose: a node that refused to start while the store is down would be restarted in a loop by systemd or
   * Kubernetes and serve nothing, whereas a node that starts serves index documents from the database and answers
   * 503 BLOB_STORE_UNAVAILABLE (with Retry-After) for blob operations until the store is back. `check` tells readiness.
   */
  static async open(target: S3Target, tmpDir: string, timeouts: Partial<S3Timeouts> = {}): Promise<S3BlobStore> {
    const sdk = await import('@aws-sdk/client-s3');
    fs.mkdirSync(tmpDir, { recursive: true });
    const limits = { ...S3_TIMEOUTS, ...timeouts };
    const client = s3Client(sdk, target, limits);
    return new S3BlobStore(sdk, client, target, new StagingDir(tmpDir), limits);
  }

  private key(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a sha256 digest: ${sha256}`);
    return `${this.target.prefix ? `${this.target.prefix}/` : ''}sha256/${sha256.slice(0, 2)}/${sha256}`;
  }

  /** BLOB_STORE_UNAVAILABLE for an SDK error met during `op`. */
  private unavailable(err: unknown, op: BlobOperation): LarderError {
    return blobStoreUnavailable(this.label, s3Problem(err), op, err);
  }

  /** Options for a small request (HEAD, DELETE, a listing page): every attempt together ends within `requestMs`. */
  private small(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(this.timeouts.requestMs) };
  }

  async stage(source: Readable | Uint8Array, opts: { maxSize?: number } = {}): Promise<StagedBlob> {
    // Staging is local (a file under the data directory); only commit talks to S3.
    let dir: string;
    try {
      dir = await this.staging.dir();
    } catch (err) {
      if (!(source instanceof Uint8Array)) source.destroy();
      throw blobStoreUnavailable('the staging directory of the blob store (blobs/tmp in the data directory)', fsProblem(err), 'write', err);
    }
    const { tmp, sha256, size } = await stageToFile(dir, source, opts.maxSize, (err) =>
      blobStoreUnavailable('the staging directory of the blob store (blobs/tmp in the data directory)', fsProblem(err), 'write', err),
    );
    let done = false;
    return {
      sha256,
      size,
      commit: async () => {
        if (done) return;
        // Without s3:ListBucket, AWS answers a HEAD of a missing key with 403: then the PUT decides.
        const stored = await this.head(sha256, 'write').catch((err: unknown) => {
          if (isS3AccessDenied((err as LarderError).cause)) return null;
          throw err;
        });
        if (stored === null) {
          try {
            await this.client.send(
              new this.sdk.PutObjectCommand({
                Bucket: this.target.bucket,
                Key: this.key(sha256),
                Body: fs.createReadStream(tmp),
                ContentLength: size,
              }),
            );
          } catch (err) {
            throw this.unavailable(err, 'write');
          }
        }
        await fsp.rm(tmp, { force: true }).catch(() => {});
        done = true;
      },
      // Never throws (see FsBlobStore): a file left behind is reaped with this process's staging directory.
      discard: async () => {
        if (!done) await fsp.rm(tmp, { force: true }).catch(() => {});
        done = true;
      },
    };
  }

  private async get(sha256: string, range?: { start: number; end: number }): Promise<Readable> {
    try {
      const res = await this.client.send(
        new this.sdk.GetObjectCommand({
          Bucket: this.target.bucket,
          Key: this.key(sha256),
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      return res.Body as Readable;
    } catch (err) {
      throw this.unavailable(err, 'read');
    }
  }

  /** The object's size, or null when S3 says it is not there; any other failure is an outage. */
  private async head(sha256: string, op: BlobOperation): Promise<number | null> {
    try {
      const head = await this.client.send(
        new this.sdk.HeadObjectCommand({ Bucket: this.target.bucket, Key: this.key(sha256) }),
        this.small(),
      );
      return head.ContentLength ?? 0;
    } catch (err) {
      if (isS3NotFound(err)) return null;
      throw this.unavailable(err, op);
    }
  }

  async open(sha256: string): Promise<BlobHandle | null> {
    // Asked before any header is sent, so an outage is a 503 the client can read (not a cut-off download).
    const size = await this.head(sha256, 'read');
    if (size === null) return null;
    return {
      size,
      stream: (range) => {
        const out = new PassThrough();
        this.get(sha256, range)
          .then((body) => pipeline(body, out))
          .catch((err) => out.destroy(err));
        return out;
      },
      copyTo: async (dest: Writable) => {
        // The SDK hands out its own buffers per chunk; S3 reads are network-bound anyway.
        const body = await this.get(sha256);
        for await (const chunk of body) {
          if (dest.destroyed) throw new Error('the client went away');
          await new Promise<void>((resolve, reject) => dest.write(chunk as Buffer, (err) => (err ? reject(err) : resolve())));
        }
      },
    };
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.head(sha256, 'read')) !== null;
  }

  async delete(sha256: string): Promise<void> {
    try {
      await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.target.bucket, Key: this.key(sha256) }), this.small());
    } catch (err) {
      throw this.unavailable(err, 'remove');
    }
  }

  /** HeadBucket: the endpoint answers, the credentials sign, the bucket exists and may be used. */
  async check(): Promise<void> {
    const probe = async () => {
      try {
        await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: this.target.bucket }), {
          abortSignal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
        });
      } catch (err) {
        if (isS3NotFound(err)) throw blobStoreUnavailable(this.label, `has no bucket "${this.target.bucket}"`, 'check', err);
        throw this.unavailable(err, 'check');
      }
    };
    // The abort signal ends the request; the race also covers time spent before it is sent (credentials, endpoints).
    await bounded(probe(), CHECK_TIMEOUT_MS + 500, () =>
      this.unavailable(Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'check'),
    );
  }

  async *list(): AsyncIterable<{ sha256: string; modifiedAt: number }> {
    let token: string | undefined;
    const prefix = `${this.target.prefix ? `${this.target.prefix}/` : ''}sha256/`;
    do {
      let page;
      try {
        page = await this.client.send(
          new this.sdk.ListObjectsV2Command({ Bucket: this.target.bucket, Prefix: prefix, ContinuationToken: token }),
          this.small(),
        );
      } catch (err) {
        throw this.unavailable(err, 'read');
      }
      for (const o of page.Contents ?? []) {
        const sha = path.posix.basename(o.Key ?? '');
        if (SHA256_HEX.test(sha)) yield { sha256: sha, modifiedAt: o.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}

/** `http://host:port` of an endpoint URL: no user info, path or query (they may carry credentials). */
function endpointOrigin(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'its configured endpoint';
  }
}
