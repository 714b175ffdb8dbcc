/** The page for a refused or failed request: the status and the catalogue's message, which says what to do. */
import { Layout } from '../layout.js';
import type { Viewer } from '../viewer.js';

export function ErrorPage({ viewer, status, message }: { viewer: Viewer; status: number; message: string }) {
  const title = status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : status < 500 ? 'Cannot do that' : 'Something went wrong';
  return (
    <Layout title={title} viewer={viewer}>
      <h1>{title}</h1>
      <p class="notice error" role="alert">
        {message}
      </p>
      <p>
        <a href="/">Back to the start page</a>
      </p>
    </Layout>
  );
}
