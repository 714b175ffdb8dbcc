/**
 * The web UI in a real browser (issue 12): headless Chromium against Larder listening on a socket. Search as you
 * type, keyboard navigation with visible focus, signing in and out, a token revoked under an open session, private
 * packages invisible to an anonymous browser, copy buttons, axe-core on every page type in light and dark on a
 * desktop and a phone, and screenshots of each (test-artifacts/screenshots/).
 *
 * Two tables say what is covered, so new pages are one entry each: PACKAGE_PAGES (one package per format, with
 * how to publish it) and PAGE_TYPES (every page axe checks). Tokens are created and revoked through the token page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { RepoConfig } from '../src/core/config.js';
import { FORMATS } from '../src/cli/context.js';
import { packageUrl } from '../src/web/components.js';
import { publishBody as bazelPublishBody, moduleFile, sourceArchive } from './support/bazel.js';
import { buildProject, projectBri, putProjectObjects } from './support/brioche-project.js';
import { basic, postTags } from './support/brioche-registry.js';
import { simplePublishBody, tokenFor } from './support/cargo.js';
import { canonicalTarball } from '../src/formats/julia/tarball.js';
import { moduleZip, publishRequest } from './support/moonbit-publish.js';
import { startTestLarder, type TestLarder } from './support/larder.js';
import {
  checkA11y,
  focusIndicator,
  horizontalOverflow,
  launchBrowser,
  LOOKS,
  openPage,
  screenshot,
  SCREENSHOTS_DIR,
} from './support/browser.js';

/** One package of a format, where it is published and what its page must show. */
interface PackagePageCase {
  format: string;
  repo: RepoConfig;
  /** The canonical id (the page's URL) and the name people search for. */
  package: string;
  name: string;
  publish(larder: TestLarder): Promise<void>;
  /** Text the page shows besides the name (version, description, …). */
  shows: string[];
}

/** Publishes a crate through Cargo's publish API, as `cargo publish` does. */
async function publishCrate(larder: TestLarder, repo: string, name: string, version: string, description: string): Promise<void> {
  const { body } = await simplePublishBody(name, version, { description });
  const res = await fetch(`${larder.url}/${repo}/api/v1/crates/new`, {
    method: 'PUT',
    headers: { authorization: larder.adminToken },
    body: new Uint8Array(body),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

const JULIA_REG = '1b2c3d4e-0000-4000-8000-00000000b0b0';
const JULIA_UUID = '69de0a69-1ddd-5017-9359-2bf0b02dc9f0';

const CRATES: RepoConfig = { name: 'crates', format: 'cargo', kind: 'hosted', visibility: 'public' };
const SECRET: RepoConfig = { name: 'secret', format: 'cargo', kind: 'hosted', visibility: 'private' };

/** One case per format; a format's package page merging adds its case here (the guard test below insists). */
const PACKAGE_PAGES: PackagePageCase[] = [
  {
    format: 'cargo',
    repo: CRATES,
    package: 'serde_lite',
    name: 'serde_lite',
    publish: (larder) => publishCrate(larder, 'crates', 'serde_lite', '1.2.3', 'A small serialisation crate'),
    shows: ['1.2.3', 'A small serialisation crate'],
  },
  {
    format: 'bazel',
    repo: { name: 'bcr', format: 'bazel', kind: 'hosted', visibility: 'public' },
    package: 'zlib_lite',
    name: 'zlib_lite',
    async publish(larder) {
      const text = moduleFile('zlib_lite', '1.3.1');
      const { payload, contentType } = await bazelPublishBody([
        ['MODULE.bazel', text],
        ['archive', await sourceArchive('zlib_lite-1.3.1', text), 'zlib_lite-1.3.1.tar.gz'],
        ['strip_prefix', 'zlib_lite-1.3.1'],
      ]);
      const res = await larder.app.inject({
        method: 'PUT',
        url: '/bcr/api/modules/zlib_lite/1.3.1',
        payload,
        headers: { authorization: `Bearer ${larder.adminToken}`, 'content-type': contentType },
      });
      expect(res.statusCode, res.body).toBe(201);
    },
    shows: ['1.3.1', 'bazel_dep(name = "zlib_lite", version = "1.3.1")'],
  },
  {
    format: 'julia',
    repo: { name: 'jl', format: 'julia', kind: 'hosted', visibility: 'public' },
    package: JULIA_UUID,
    name: 'Parsers',
    async publish(larder) {
      const auth = { authorization: `Bearer ${larder.adminToken}` };
      const created = await larder.app.inject({
        method: 'POST',
        url: '/jl/api/registries',
        payload: { name: 'Team', uuid: JULIA_REG },
        headers: auth,
      });
      expect(created.statusCode, created.body).toBe(201);
      const project = `name = "Parsers"\nuuid = "${JULIA_UUID}"\nversion = "2.8.1"\n\n[compat]\njulia = "1.6"\n`;
      const tree = new Map([
        ['Project.toml', { kind: 'file' as const, data: Buffer.from(project) }],
        ['src/Parsers.jl', { kind: 'file' as const, data: Buffer.from('module Parsers end\n') }],
        ['README.md', { kind: 'file' as const, data: Buffer.from('# Parsers\n\nFast parsing of numbers and dates.\n') }],
      ]);
      const res = await larder.app.inject({
        method: 'PUT',
        url: `/jl/api/registries/${JULIA_REG}/packages`,
        payload: await canonicalTarball(tree),
        headers: { ...auth, 'content-type': 'application/gzip' },
      });
      expect(res.statusCode, res.body).toBe(201);
    },
    shows: ['2.8.1', 'Pkg.add("Parsers")', 'Fast parsing of numbers and dates.'],
  },
  {
    format: 'moonbit',
    repo: { name: 'mooncakes', format: 'moonbit', kind: 'hosted', visibility: 'public' },
    package: 'alice/jsonlite',
    name: 'alice/jsonlite',
    async publish(larder) {
      const alice = await tokenFor(larder.registry, 'alice', { scopes: ['publish'] });
      const manifest = { name: 'alice/jsonlite', version: '0.4.0', description: 'JSON for MoonBit, lite', license: 'Apache-2.0' };
      const res = await larder.app.inject(
        await publishRequest(
          'mooncakes',
          alice,
          moduleZip(manifest, [{ path: 'README.md', data: Buffer.from('# jsonlite\n\nParse JSON.\n') }]),
        ),
      );
      expect(res.statusCode, res.body).toBe(200);
    },
    shows: ['0.4.0', 'JSON for MoonBit, lite', 'moon add alice/jsonlite@0.4.0', 'Parse JSON.'],
  },
  {
    format: 'brioche',
    repo: { name: 'brioche', format: 'brioche', kind: 'hosted', visibility: 'public' },
    package: 'ripgrep_lite',
    name: 'ripgrep_lite',
    async publish(larder) {
      const project = await buildProject({
        'project.bri': projectBri({ name: 'ripgrep_lite', version: '14.1.0', description: 'Recursive search, lite', license: 'MIT' }),
      });
      await putProjectObjects(larder.registry, 'brioche', project);
      const tags = ['latest', '14.1.0'].map((tag) => ({ projectName: 'ripgrep_lite', tag, projectHash: project.projectHash }));
      const res = await postTags(larder.app, 'brioche', tags, basic(larder.adminToken));
      expect(res.statusCode, res.body).toBe(200);
    },
    shows: ['14.1.0', 'Recursive search, lite'],
  },
];

/** Packages besides the cases, for search: public ones in `crates`, and one in the private repo. */
const MORE_CRATES = [
  { name: 'tokio_lite', description: 'An asynchronous runtime, smaller' },
  { name: 'rand_lite', description: 'Random numbers' },
];
const HIDDEN = { repo: 'secret', name: 'hidden_crate' };

/** A page type as axe and the screenshots see it. `signedIn`: looked at after signing in as the admin. */
interface PageType {
  name: string;
  path: string;
  status?: number;
  signedIn?: boolean;
}

const PAGE_TYPES: PageType[] = [
  { name: 'start', path: '/' },
  { name: 'search', path: '/-/search?q=lite' },
  { name: 'repo', path: '/-/repos/crates' },
  { name: 'sign-in', path: '/-/sign-in' },
  { name: 'not-found', path: '/-/packages/crates/no_such_crate', status: 404 },
  { name: 'start-signed-in', path: '/', signedIn: true },
  { name: 'private-repo', path: '/-/repos/secret', signedIn: true },
  { name: 'tokens', path: '/-/account/tokens', signedIn: true },
  { name: 'my-packages', path: '/-/account/packages', signedIn: true },
  { name: 'admin-users', path: '/-/admin/users', signedIn: true },
  { name: 'admin-repos', path: '/-/admin/repos', signedIn: true },
  { name: 'admin-audit', path: '/-/admin/audit', signedIn: true },
  ...PACKAGE_PAGES.map((c) => ({ name: `package-${c.format}`, path: packageUrl(c.repo.name, c.package) })),
];

let larder: TestLarder;
let browser: Browser;

beforeAll(async () => {
  const repos = [...new Map([CRATES, SECRET, ...PACKAGE_PAGES.map((c) => c.repo)].map((r) => [r.name, r])).values()];
  [larder, browser] = await Promise.all([startTestLarder({ repos }), launchBrowser()]);
  for (const c of PACKAGE_PAGES) await c.publish(larder);
  for (const c of MORE_CRATES) await publishCrate(larder, 'crates', c.name, '0.1.0', c.description);
  await publishCrate(larder, HIDDEN.repo, HIDDEN.name, '1.0.0', 'Nobody outside may see this');
  // A fresh machine installs Chromium (apt-get) here first, which alone can take minutes.
}, 600_000);
afterAll(async () => {
  await browser?.close();
  await larder?.stop();
  process.stdout.write(`screenshots: ${SCREENSHOTS_DIR}\n`);
});

/** Signs in through the sign-in form with `token`, from wherever the page is. */
async function signIn(page: Page, token: string): Promise<void> {
  await page.goto('/-/sign-in');
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('/');
}

/** Waits for what a page does after an event (a fetch, a timer) without betting on how fast a busy machine is. */
const eventually = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 15_000 });

/**
 * Clicks the copy button of the code block `id` and returns what the clipboard then holds, and every label the
 * button showed meanwhile (its "Copied" lasts 1.5 s, too short to catch by polling on a loaded machine).
 */
async function copySnippet(page: Page, id: string): Promise<{ clipboard: string; labels: string[] }> {
  await page.evaluate((id) => {
    const button = document.querySelector(`button[data-copy="${id}"]`)!;
    const labels: string[] = [];
    (window as unknown as { copyLabels: string[] }).copyLabels = labels;
    new MutationObserver(() => labels.push(button.textContent ?? '')).observe(button, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  }, id);
  await page.locator(`button[data-copy="${id}"]`).click();
  await eventually(() => page.evaluate(() => (window as unknown as { copyLabels: string[] }).copyLabels.length)).toBeGreaterThan(0);
  return {
    clipboard: await page.evaluate(() => navigator.clipboard.readText()),
    labels: await page.evaluate(() => (window as unknown as { copyLabels: string[] }).copyLabels),
  };
}

/** The header's account navigation as text (who is signed in, or "Sign in"). */
const accountNav = (page: Page) => page.getByRole('navigation', { name: 'Account' }).innerText();

describe('search', () => {
  it('replaces the results as you type, without reloading the page', async () => {
    const { context, page } = await openPage(browser, { baseURL: larder.url });
    try {
      await page.goto('/-/search');
      const results = page.locator('#results');
      await eventually(() => results.innerText()).toContain('tokio_lite');
      await page.evaluate(() => ((window as unknown as { stillHere: boolean }).stillHere = true));
      await page.getByLabel('Words').pressSequentially('rand', { delay: 20 });
      // The address follows the last answer: wait for the answer to "rand" itself (one to "ra" can already show
      // the same package on a slow machine).
      await eventually(async () => new URL(page.url()).searchParams.get('q')).toBe('rand');
      await eventually(() => results.innerText()).not.toContain('tokio_lite');
      expect(await results.innerText()).toContain('rand_lite');
      expect(await results.innerText()).toContain('1 package');
      expect(await page.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
      expect(new URL(page.url()).searchParams.get('q')).toBe('rand');
      // The address now names the search, so a reload (or a shared link) shows the same results.
      await page.reload();
      expect(await page.locator('#results').innerText()).toContain('rand_lite');
      expect(await page.locator('#results').innerText()).not.toContain('tokio_lite');
    } finally {
      await context.close();
    }
  });

  it('is reached from the skip link by keyboard alone, with the focus always drawn', async () => {
    const { context, page } = await openPage(browser, { baseURL: larder.url, scheme: 'dark' });
    try {
      await page.goto('/');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
      expect(await focusIndicator(page)).not.toBeNull();
      await page.keyboard.press('Enter');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('hero-search');
      expect(await focusIndicator(page)).not.toBeNull();
      await page.keyboard.type('serde');
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/-\/search\?q=serde$/);
      // From the top of the results page: skip link, the site's name, then the header's search box.
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('site-search');
      expect(await focusIndicator(page)).not.toBeNull();
      const first = page.locator('#results a.name').first();
      await first.focus();
      expect(await first.innerText()).toBe('serde_lite');
      expect(await focusIndicator(page)).not.toBeNull();
    } finally {
      await context.close();
    }
  });
});

describe('package pages', () => {
  it('has a case for every format with a package page of its own', () => {
    const withPages = FORMATS.filter((f) => f.web).map((f) => f.format);
    const cased = new Set(PACKAGE_PAGES.map((c) => c.format));
    expect(withPages.filter((f) => !cased.has(f))).toEqual([]);
  });

  it.each(PACKAGE_PAGES)('$format: found by search, opened, its snippet copied', async (c) => {
    const { context, page } = await openPage(browser, { baseURL: larder.url, clipboard: true });
    try {
      await page.goto('/');
      await page.getByRole('searchbox', { name: 'Search every repository' }).fill(c.name);
      await page.getByRole('searchbox', { name: 'Search every repository' }).press('Enter');
      await page.locator('#results').getByRole('link', { name: c.name, exact: true }).click();
      await page.waitForURL(packageUrl(c.repo.name, c.package));
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toContain(c.name);
      const text = await page.locator('main').innerText();
      for (const shown of c.shows) expect(text).toContain(shown);
      const code = await page.locator('#snippet-0').textContent();
      expect(code?.length).toBeGreaterThan(0);
      const copied = await copySnippet(page, 'snippet-0');
      expect(copied.clipboard).toBe(code);
      expect(copied.labels[0]).toBe('Copied');
    } finally {
      await context.close();
    }
  });
});

describe('repository page', () => {
  it("copies the client configuration with the copy button (the clipboard holds the snippet's exact text)", async () => {
    const { context, page } = await openPage(browser, { baseURL: larder.url, clipboard: true });
    try {
      await page.goto('/-/repos/crates');
      // The button is named for what it copies, for a screen reader.
      expect(await page.getByRole('button', { name: 'Copy Configuration' }).getAttribute('data-copy')).toBe('setup-snippet');
      const copied = await copySnippet(page, 'setup-snippet');
      expect(copied.clipboard).toBe(await page.locator('#setup-snippet').textContent());
      expect(copied.clipboard).toContain(`${larder.url}/crates/`);
      expect(copied.labels[0]).toBe('Copied');
    } finally {
      await context.close();
    }
  });
});

describe('signing in', () => {
  it('signs in with a token, shows the private repo, and signs out', async () => {
    const { context, page } = await openPage(browser, { baseURL: larder.url });
    try {
      await page.goto('/');
      expect(await accountNav(page)).toBe('Sign in');
      await page.getByRole('link', { name: 'Sign in' }).click();
      await page.getByLabel('Token').fill('larder_not-a-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      expect(await page.getByRole('alert').innerText()).toContain('the token is not valid');
      expect(await accountNav(page)).toBe('Sign in');

      await signIn(page, larder.adminToken);
      expect(await accountNav(page)).toContain('Sign out admin');
      expect(await page.locator('main').innerText()).toContain('secret');
      const cookie = (await context.cookies()).find((c) => c.name === 'larder_session');
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

      await page.getByRole('button', { name: 'Sign out admin' }).click();
      await page.waitForURL('/');
      expect(await accountNav(page)).toBe('Sign in');
      expect(await page.locator('main').innerText()).not.toContain('secret');
      expect((await context.cookies()).find((c) => c.name === 'larder_session')).toBeUndefined();
    } finally {
      await context.close();
    }
  });

  it('creates a token on the token page (secret shown once), signs in with it, and revoking it there ends that session', async () => {
    const admin = await openPage(browser, { baseURL: larder.url, clipboard: true });
    const other = await openPage(browser, { baseURL: larder.url });
    try {
      await signIn(admin.page, larder.adminToken);
      await admin.page.getByRole('link', { name: 'Tokens' }).click();
      await admin.page.getByLabel('Name').fill('browser');
      await admin.page.getByRole('checkbox', { name: 'read' }).check();
      await admin.page.getByLabel('Repositories').fill('secret');
      await admin.page.getByRole('radio', { name: 'never', exact: true }).check();
      await admin.page.getByRole('button', { name: 'Create token' }).click();
      expect(await admin.page.getByRole('heading', { level: 1 }).innerText()).toBe('Token created');
      const secret = (await admin.page.locator('#new-token').textContent()) ?? '';
      expect(secret).toMatch(/^larder_\S+$/);
      expect((await copySnippet(admin.page, 'new-token')).clipboard).toBe(secret);
      // Shown once: the token list names it by prefix only.
      await admin.page.goto('/-/account/tokens');
      expect(await admin.page.content()).not.toContain(secret);

      await signIn(other.page, secret);
      await other.page.goto('/-/repos/secret');
      expect(await other.page.getByRole('heading', { level: 1 }).innerText()).toBe('secret');

      await admin.page.getByRole('link', { name: /^Revoke browser/ }).click();
      await admin.page.getByRole('button', { name: 'Revoke browser' }).click();
      await admin.page.waitForURL(/\/-\/account\/tokens\?revoked=\d+$/);
      const res = await other.page.goto('/-/repos/secret');
      expect(res?.status()).toBe(404);
      expect(await accountNav(other.page)).toBe('Sign in');
    } finally {
      await admin.context.close();
      await other.context.close();
    }
  });
});

describe('private repositories', () => {
  it('never show their packages to an anonymous browser, in search or by address; a reader sees them', async () => {
    const { context, page } = await openPage(browser, { baseURL: larder.url });
    const hiddenUrl = packageUrl(HIDDEN.repo, HIDDEN.name);
    try {
      await page.goto('/');
      expect(await page.content()).not.toContain(HIDDEN.repo);
      await page.goto('/-/search');
      await page.getByLabel('Words').fill(HIDDEN.name);
      await eventually(() => page.locator('#results').innerText()).toContain('No packages match.');
      await page.goto('/-/search?q=nobody+outside');
      expect(await page.locator('#results').innerText()).toContain('No packages match.');
      for (const path of [hiddenUrl, '/-/repos/secret']) {
        const res = await page.goto(path);
        expect(res?.status(), path).toBe(404);
        expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Not found');
        expect(await page.content()).not.toContain('Nobody outside');
      }
      // The refusal reads exactly as for a package that was never published.
      await page.goto(hiddenUrl);
      const refused = (await page.getByRole('alert').innerText()).replace(HIDDEN.name, 'X');
      await page.goto(packageUrl(HIDDEN.repo, 'never_published'));
      expect((await page.getByRole('alert').innerText()).replace('never_published', 'X')).toBe(refused);

      await signIn(page, larder.adminToken);
      await page.goto(`/-/search?q=${HIDDEN.name}`);
      await page.locator('#results').getByRole('link', { name: HIDDEN.name }).click();
      await page.waitForURL(hiddenUrl);
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toContain(HIDDEN.name);
    } finally {
      await context.close();
    }
  });
});

describe('every page type, light and dark, desktop and phone', () => {
  it.each(LOOKS)('$scheme, $device: no serious or critical axe violations, fits the screen, photographed', async (look) => {
    const { context, page } = await openPage(browser, { baseURL: larder.url, scheme: look.scheme, device: look.device, a11y: true });
    try {
      // Anonymous pages first, then one sign-in for the rest.
      const ordered = [...PAGE_TYPES.filter((t) => !t.signedIn), ...PAGE_TYPES.filter((t) => t.signedIn)];
      for (const type of ordered) {
        if (type.signedIn && !(await context.cookies()).some((c) => c.name === 'larder_session')) await signIn(page, larder.adminToken);
        const res = await page.goto(type.path);
        expect(res?.status(), `${type.name} ${type.path}`).toBe(type.status ?? 200);
        const label = `${type.name} (${look.scheme}, ${look.device})`;
        await checkA11y(page, label, look.axe);
        expect(await horizontalOverflow(page), `${label} scrolls sideways`).toBe(0);
        await screenshot(page, `${type.name}-${look.scheme}-${look.device}`);
      }
    } finally {
      await context.close();
    }
  });

  it('lists every page the signed-in header links to (a new page must join PAGE_TYPES so axe checks it)', async () => {
    const { context, page } = await openPage(browser, { baseURL: larder.url });
    try {
      await signIn(page, larder.adminToken);
      const links = await page
        .locator('header a[href^="/"]')
        .evaluateAll((as) => as.map((a) => new URL((a as HTMLAnchorElement).href).pathname));
      expect(links).toContain('/');
      const checked = new Set(PAGE_TYPES.map((t) => new URL(t.path, larder.url).pathname));
      const unchecked: string[] = [];
      for (const path of links) {
        const res = await page.request.get(path);
        if (res.status() === 200 && !checked.has(path)) unchecked.push(path);
      }
      expect(unchecked).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
