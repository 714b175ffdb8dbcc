/**
 * The token page's create form: its fields as typed (kept to show the form again after a refusal) and the token
 * they ask for. The rules on what may be created are not here: registry/token-actions.ts applies them.
 */
import { fail } from '../core/errors.js';
import { parseScopes } from '../registry/auth.js';
import type { WantedToken } from '../registry/token-actions.js';

/** The expiry choices the form offers: with the session's token, a number of days, never, or a date. */
export const EXPIRY_DAYS = [30, 90, 365] as const;
export type ExpiryChoice = 'same' | '30' | '90' | '365' | 'never' | 'date';

export interface TokenFormValues {
  name: string;
  scopes: string[];
  repo: string;
  package: string;
  expires: ExpiryChoice;
  /** `YYYY-MM-DD`, used when `expires` is `date`. */
  expiresOn: string;
  /** Whose token (admins only); empty: the viewer's. */
  user: string;
}

/**
 * What a fresh form shows: read only, expiring in 90 days, or with the session's token when that expires (a new
 * token may not outlive it).
 */
export function defaultTokenForm(sessionTokenExpires: boolean): TokenFormValues {
  return { name: '', scopes: ['read'], repo: '', package: '', expires: sessionTokenExpires ? 'same' : '90', expiresOn: '', user: '' };
}

const CHOICES: readonly string[] = ['same', ...EXPIRY_DAYS.map(String), 'never', 'date'];

/** The fields of a posted create form, trimmed; an unknown expiry choice reads as the session token's expiry. */
export function tokenFormValues(form: URLSearchParams): TokenFormValues {
  const text = (key: string) => (form.get(key) ?? '').trim();
  const expires = text('expires');
  return {
    name: text('name'),
    scopes: form.getAll('scope').map((s) => s.trim()),
    repo: text('repo'),
    package: text('package'),
    expires: (CHOICES.includes(expires) ? expires : 'same') as ExpiryChoice,
    expiresOn: text('expires_on'),
    user: text('user'),
  };
}

/** The token the form asks for; BODY_MALFORMED / METADATA_INVALID (400) say which field is wrong. */
export function wantedToken(values: TokenFormValues, now = Date.now()): WantedToken {
  if (values.name.length > 100) fail('BODY_MALFORMED', 'the name may be 100 characters at most');
  for (const [label, pattern] of [
    ['repository', values.repo],
    ['package', values.package],
  ] as const) {
    if (pattern.length > 500) fail('BODY_MALFORMED', `the ${label} pattern may be 500 characters at most`);
  }
  return {
    ...(values.user ? { login: values.user } : {}),
    name: values.name || undefined,
    scopes: parseScopes(values.scopes.join(',')),
    repoPattern: values.repo || null,
    packagePattern: values.package || null,
    expiresAt: expiryOf(values, now),
  };
}

/** Millis, null for never, undefined for "when the session's token expires". */
function expiryOf(values: TokenFormValues, now: number): number | null | undefined {
  if (values.expires === 'same') return undefined;
  if (values.expires === 'never') return null;
  if (values.expires !== 'date') return now + Number(values.expires) * 86_400_000;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(values.expiresOn);
  const at = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || !Number.isFinite(at) || new Date(at).toISOString().slice(0, 10) !== values.expiresOn) {
    fail('BODY_MALFORMED', 'choose the expiry date as YYYY-MM-DD (or another expiry)');
  }
  if (at <= now) fail('BODY_MALFORMED', `the expiry date ${values.expiresOn} is not in the future`);
  return at;
}
