/** Renders a page component to the bytes sent: a full HTML document, or a fragment for search-as-you-type. */
import type { FastifyReply } from 'fastify';
import type { VNode } from 'preact';
import { renderToString } from 'preact-render-to-string';

/**
 * The policy every page is sent with: scripts and styles only from /-/static/ (a README's markup cannot run
 * code or restyle the page), images from the site or https, forms only back to Larder, no framing.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' https:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Sends a page (status 200 unless set) with the UI's security headers; never cached, since it depends on the viewer. */
export function sendPage(reply: FastifyReply, page: VNode, fragment = false): FastifyReply {
  const html = renderToString(page);
  return reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'same-origin')
    .header('cache-control', 'no-store')
    .send(fragment ? html : `<!doctype html>${html}`);
}
