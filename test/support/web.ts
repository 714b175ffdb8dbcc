/** Signing in to the web UI over inject, as a browser would: GET the form, post the token with its CSRF pair. */
import type { FastifyInstance } from 'fastify';

export interface WebSession {
  /** The `Cookie` header value to send. */
  cookie: string;
  /** The full Set-Cookie header the sign-in answered with. */
  setCookie: string;
  /** The session's CSRF token, as its forms carry it. */
  csrf: string;
}

const firstCookie = (header: string | string[] | undefined, name: string): string | undefined =>
  ([] as string[]).concat(header ?? []).find((c) => c.startsWith(`${name}=`));

/** Signs in with `token`; throws with the status and page text when the sign-in is refused. */
export async function signIn(app: FastifyInstance, token: string): Promise<WebSession> {
  const form = await app.inject({ method: 'GET', url: '/-/sign-in' });
  const csrfCookie = firstCookie(form.headers['set-cookie'], 'larder_sign_in')!.split(';')[0];
  const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)![1];
  const res = await app.inject({
    method: 'POST',
    url: '/-/sign-in',
    headers: { cookie: csrfCookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ token, _csrf: csrf, next: '/' }).toString(),
  });
  if (res.statusCode !== 303) throw new Error(`sign-in answered ${res.statusCode}: ${res.body}`);
  const setCookie = firstCookie(res.headers['set-cookie'], 'larder_session')!;
  const cookie = setCookie.split(';')[0];
  const page = await app.inject({ method: 'GET', url: '/-/sign-in', headers: { cookie } });
  const sessionCsrf = /<input type="hidden" name="_csrf" value="([^"]+)"\/><button class="link"/.exec(page.body)?.[1];
  if (!sessionCsrf) throw new Error('signed in, but the page carries no session CSRF token');
  return { cookie, setCookie, csrf: sessionCsrf };
}

/** Posts a form as the signed-in browser would: the session cookie, and `_csrf` unless the fields name their own (or null for none). */
export async function postForm(
  app: FastifyInstance,
  session: WebSession,
  url: string,
  fields: Array<[string, string]>,
  csrf: string | null = session.csrf,
) {
  const body = new URLSearchParams(fields);
  if (csrf !== null) body.set('_csrf', csrf);
  return app.inject({
    method: 'POST',
    url,
    headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: body.toString(),
  });
}

/** GETs a page as the signed-in browser would. */
export function getPage(app: FastifyInstance, session: WebSession | null, url: string) {
  return app.inject({ method: 'GET', url, headers: session ? { cookie: session.cookie } : {} });
}
