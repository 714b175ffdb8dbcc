/**
 * Form posts: bodies are `application/x-www-form-urlencoded` (what a browser sends without JavaScript), read as
 * URLSearchParams; every form carries a CSRF token checked before anything else is looked at.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { LarderError } from '../core/errors.js';
import type { Viewer } from './viewer.js';

/** The largest form body accepted (token names and patterns, audit filters). */
export const MAX_FORM_BYTES = 64 * 1024;

/** Lets a scope's routes read form posts as URLSearchParams. */
export function acceptForms(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_FORM_BYTES }, (_req, body, done) => {
    done(null, new URLSearchParams(body as string));
  });
}

/** The form fields of a post (empty when the body was not a form). */
export function formOf(body: unknown): URLSearchParams {
  return body instanceof URLSearchParams ? body : new URLSearchParams();
}

/** Whether two secrets are equal, in time independent of where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Refuses a signed-in form post whose `_csrf` field is not the session's token. */
export function requireCsrf(viewer: Viewer, form: URLSearchParams): void {
  const sent = form.get('_csrf') ?? '';
  if (!viewer.session || !sameSecret(sent, viewer.session.csrf)) {
    throw new LarderError('CSRF_INVALID', 'this form is out of date or did not come from this site: reload the page and submit it again');
  }
}
