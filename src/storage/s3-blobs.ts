import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
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
 * Blobs in S3-compatible object storage, so several nodes share them. Uploads are staged in a
 * local temporary file (hashed while streaming) and put under their digest on commit.
 */
export class S3BlobStore implements BlobStore {
  private constructor(
    private readonly sdk: S3,
    private readonly client: S3Client,
    private readonly target: S3Target,
    private readonly staging: StagingDir,
  ) {}

  reapStaging(): Promise<number> {
    return this.staging.reap();
  }

  async close(): Promise<void> {
    await this.staging.close();
    this.client.destroy();
  }

  /** Loads the AWS SDK only when S3 is configured (it is large, and warns on load). */
  static async open(target: S3Target, tmpDir: string): Promise<S3BlobStore> {
    const sdk = await import('@aws-sdk/client-s3');
    fs.mkdirSync(tmpDir, { recursive: true });
    // Checksums only where S3 requires them: the default aws-chunked uploads with trailing
    // checksums are not understood by every S3-compatible server (and would be stored as bytes).
    const client = new sdk.S3Client({
      region: target.region,
      endpoint: target.endpoint,
      forcePathStyle: target.pathStyle,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    return new S3BlobStore(sdk, client, target, new StagingDir(tmpDir));
  }

  private key(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a sha256 digest: ${sha256}`);
    return `${this.target.prefix ? `${this.target.prefix}/` : ''}sha256/${sha256.slice(0, 2)}/${sha256}`;
  }

  async stage(source: Readable, opts: { maxSize?: number } = {}): Promise<StagedBlob> {
    const { tmp, sha256, size } = await stageToFile(await this.staging.dir(), source, opts.maxSize);
    let done = false;
    return {
      sha256,
      size,
      commit: async () => {
        if (done) return;
        if (!(await this.has(sha256))) {
          await this.client.send(
            new this.sdk.PutObjectCommand({
              Bucket: this.target.bucket,
              Key: this.key(sha256),
              Body: fs.createReadStream(tmp),
              ContentLength: size,
            }),
          );
        }
        await fsp.rm(tmp, { force: true });
        done = true;
      },
      discard: async () => {
        if (!done) await fsp.rm(tmp, { force: true });
        done = true;
      },
    };
  }

  private async get(sha256: string, range?: { start: number; end: number }): Promise<Readable> {
    const res = await this.client.send(
      new this.sdk.GetObjectCommand({
        Bucket: this.target.bucket,
        Key: this.key(sha256),
        Range: range ? `bytes=${range.start}-${range.end}` : undefined,
      }),
    );
    return res.Body as Readable;
  }

  async open(sha256: string): Promise<BlobHandle | null> {
    let size: number;
    try {
      const head = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.target.bucket, Key: this.key(sha256) }));
      size = head.ContentLength ?? 0;
    } catch {
      return null;
    }
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
    try {
      await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.target.bucket, Key: this.key(sha256) }));
      return true;
    } catch {
      return false;
    }
  }

  async delete(sha256: string): Promise<void> {
    await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.target.bucket, Key: this.key(sha256) }));
  }

  async *list(): AsyncIterable<{ sha256: string; modifiedAt: number }> {
    let token: string | undefined;
    const prefix = `${this.target.prefix ? `${this.target.prefix}/` : ''}sha256/`;
    do {
      const page = await this.client.send(
        new this.sdk.ListObjectsV2Command({ Bucket: this.target.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        const sha = path.posix.basename(o.Key ?? '');
        if (SHA256_HEX.test(sha)) yield { sha256: sha, modifiedAt: o.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
}
