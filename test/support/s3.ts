import S3rver from 's3rver';
import { tempDir } from './tmp.js';

export interface TestS3 {
  /** A `blobs` setting for a fresh bucket. */
  newBucketUrl(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A local S3-compatible server from the s3rver package, on 127.0.0.1. Clients sign with the
 * credentials s3rver accepts, set in the environment as the AWS SDK reads them.
 */
export async function startS3(): Promise<TestS3> {
  const dir = tempDir('larder-s3-');
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir.path });
  const { port } = await server.run();
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  // The SDK's notice about Node versions would otherwise land in the stderr of every CLI run the tests check.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  let n = 0;
  return {
    async newBucketUrl() {
      const bucket = `larder-test-${++n}`;
      const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
      const client = new S3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true });
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      client.destroy();
      return `s3://${bucket}/blobs?endpoint=http://127.0.0.1:${port}&region=us-east-1&path_style=true`;
    },
    async stop() {
      await server.close();
      dir.remove();
    },
  };
}
