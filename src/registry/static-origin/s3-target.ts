/** A static origin in an S3-compatible bucket, for a CDN or a website endpoint to serve. */
import type { S3Client } from '@aws-sdk/client-s3';
import { S3_TIMEOUTS, s3Client, type S3Target } from '../../storage/s3-blobs.js';
import { checkedPath, type StaticTarget } from './target.js';

type S3 = typeof import('@aws-sdk/client-s3');

/** Objects under `prefix/`; a PutObject replaces an object whole, which is the atomicity a reader needs. */
export class S3StaticTarget implements StaticTarget {
  readonly label: string;

  private constructor(
    private readonly sdk: S3,
    private readonly client: S3Client,
    private readonly target: S3Target,
  ) {
    this.label = `s3://${target.bucket}${target.prefix ? `/${target.prefix}` : ''}`;
  }

  /** Loads the SDK only when an S3 static origin is configured; asks nothing of the endpoint yet. */
  static async open(target: S3Target): Promise<S3StaticTarget> {
    const sdk = await import('@aws-sdk/client-s3');
    const client = s3Client(sdk, target);
    return new S3StaticTarget(sdk, client, target);
  }

  private key(relPath: string): string {
    return `${this.target.prefix ? `${this.target.prefix}/` : ''}${checkedPath(relPath)}`;
  }

  private signal(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(S3_TIMEOUTS.requestMs) };
  }

  async put(relPath: string, body: Buffer, contentType: string): Promise<void> {
    // no-cache as Larder says for mutable documents: a CDN in front revalidates rather than serving an old index.
    const command = new this.sdk.PutObjectCommand({
      Bucket: this.target.bucket,
      Key: this.key(relPath),
      Body: body,
      ContentType: contentType,
      CacheControl: 'no-cache',
    });
    await this.client.send(command, this.signal());
  }

  async delete(relPath: string): Promise<void> {
    await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.target.bucket, Key: this.key(relPath) }), this.signal());
  }

  async *list(): AsyncIterable<{ path: string; md5: string }> {
    const prefix = this.target.prefix ? `${this.target.prefix}/` : '';
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new this.sdk.ListObjectsV2Command({ Bucket: this.target.bucket, Prefix: prefix, ContinuationToken: token }),
        this.signal(),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        // A single PutObject's ETag is the MD5 of its bytes (multipart ETags never match, so they are rewritten).
        yield { path: o.Key.slice(prefix.length), md5: (o.ETag ?? '').replace(/"/g, '') };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
