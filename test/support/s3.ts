import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import S3rver from 's3rver';
import { tempDir } from './tmp.js';

export interface TestS3 {
  /** `http://127.0.0.1:{port}`; the same across `halt`/`restart`. */
  endpoint: string;
  /** A `blobs` setting for a fresh bucket. */
  newBucketUrl(): Promise<string>;
  /** Every object key in `bucket` (read from s3rver's directory, so it works while the server is halted), sorted. */
  keys(bucket: string): Promise<string[]>;
  /**
   * An outage: stops listening and cuts open connections (keep-alive ones too), keeping the directory and its
   * buckets. Requests meet ECONNREFUSED until `restart`.
   */
  halt(): Promise<void>;
  /** Listens again on the same port, over the same directory: the buckets and objects are back. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A local S3-compatible server from the s3rver package, on 127.0.0.1. Clients sign with the
 * credentials s3rver accepts, set in the environment as the AWS SDK reads them. The HTTP server is
 * ours (s3rver's request handler in it), so it can be halted and restarted on the same port.
 */
export async function startS3(): Promise<TestS3> {
  const dir = tempDir('larder-s3-');
  const app = new S3rver({ address: '127.0.0.1', silent: true, directory: dir.path });
  await app.configureBuckets();
  const listen = async (port: number): Promise<http.Server> => {
    const server = http.createServer(app.callback());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server;
  };
  let server: http.Server | null = await listen(0);
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}`;
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  // The SDK's notice about Node versions would otherwise land in the stderr of every CLI run the tests check.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const close = async () => {
    if (!server) return;
    const s = server;
    server = null;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections();
    await closed;
  };
  let n = 0;
  return {
    endpoint,
    async newBucketUrl() {
      const bucket = `larder-test-${++n}`;
      const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
      const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true });
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      client.destroy();
      return `s3://${bucket}/blobs?endpoint=${endpoint}&region=us-east-1&path_style=true`;
    },
    async keys(bucket) {
      // s3rver keeps each object as `<dir>/<bucket>/<key>._S3rver_object` (keys as paths on POSIX).
      const root = path.join(dir.path, bucket);
      const suffix = '._S3rver_object';
      const files = fs.existsSync(root) ? (fs.readdirSync(root, { recursive: true }) as string[]) : [];
      return files
        .filter((f) => f.endsWith(suffix))
        .map((f) => f.slice(0, -suffix.length).split(path.sep).join('/'))
        .sort();
    },
    halt: close,
    async restart() {
      if (!server) server = await listen(port);
    },
    async stop() {
      await close();
      dir.remove();
    },
  };
}
