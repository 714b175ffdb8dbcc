import type { Auth, Principal } from './auth.js';

/**
 * The token in an Authorization header, however the client sends it: Cargo sends the bare
 * token, credential helpers send `Bearer <token>`, `.netrc` and git send Basic with the token
 * as the password.
 */
export function tokenFromAuthorization(header: string | undefined): string | null {
  if (!header) return null;
  const value = header.trim();
  if (value === '') return null;
  const space = value.indexOf(' ');
  const scheme = space > 0 ? value.slice(0, space).toLowerCase() : '';
  if (scheme === 'bearer' || scheme === 'token') return value.slice(space + 1).trim() || null;
  if (scheme === 'basic') {
    const decoded = Buffer.from(value.slice(space + 1).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const password = colon >= 0 ? decoded.slice(colon + 1) : decoded;
    return password || null;
  }
  return value;
}

/** The principal behind a request's Authorization header; null when it carries no token, an error when the token is not accepted. */
export async function principalFromHeader(auth: Auth, header: string | undefined): Promise<Principal | null> {
  const token = tokenFromAuthorization(header);
  return token ? auth.authenticate(token) : null;
}
