/**
 * Real-browser tests of the web UI (issue 12): Debian's Chromium driven headless by playwright-core, axe-core
 * checks, and screenshots kept as test artifacts. Chromium is installed with apt-get when missing, as bench/
 * installs nginx; when it cannot be, the tests fail with what to do (they never skip).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { AxeResults, Result } from 'axe-core';
import { ensureTools } from './debian.js';

const require = createRequire(import.meta.url);

/** Where Debian's chromium package puts its launcher; `LARDER_CHROMIUM` names another binary. */
const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/**
 * Screenshots land here (`LARDER_TEST_ARTIFACTS` overrides): a fixed path in the checkout, ignored by git, so CI
 * can upload `test-artifacts/` after a run and a developer finds the pictures next to the code.
 */
export const ARTIFACTS_DIR = path.resolve(process.env.LARDER_TEST_ARTIFACTS ?? path.join(import.meta.dirname, '../../test-artifacts'));
export const SCREENSHOTS_DIR = path.join(ARTIFACTS_DIR, 'screenshots');

/** The Chromium to drive: `LARDER_CHROMIUM`, or Debian's package, installed with apt-get if missing. */
export function chromiumPath(): string {
  const chosen = process.env.LARDER_CHROMIUM;
  if (chosen) {
    if (!fs.existsSync(chosen)) throw new Error(`LARDER_CHROMIUM names ${chosen}, which does not exist`);
    return chosen;
  }
  if (!fs.existsSync(DEBIAN_CHROMIUM)) {
    try {
      ensureTools(['chromium']);
    } catch (err) {
      throw new Error(
        `the browser tests need Chromium at ${DEBIAN_CHROMIUM} and could not install it ` +
          `(${err instanceof Error ? err.message : String(err)}): run \`apt-get install -y chromium\` as root, ` +
          `or set LARDER_CHROMIUM to a Chromium binary`,
        { cause: err },
      );
    }
  }
  if (fs.existsSync(DEBIAN_CHROMIUM)) return DEBIAN_CHROMIUM;
  // ensureTools is satisfied by any `chromium` on the PATH.
  const onPath = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).stdout.trim();
  if (!onPath) throw new Error(`no Chromium at ${DEBIAN_CHROMIUM} or on the PATH after installing it`);
  return onPath;
}

/** Launches headless Chromium; as root (CI containers, this machine) its sandbox cannot start, so it runs without. */
export async function launchBrowser(): Promise<Browser> {
  const args = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args });
}

/** The screens every page is looked at on. */
export const DEVICES = {
  desktop: { viewport: { width: 1280, height: 800 }, isMobile: false, hasTouch: false },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
} as const;
export type DeviceName = keyof typeof DEVICES;
export type ColorScheme = 'light' | 'dark';

/**
 * Every (colour scheme, device) pair, in the order screenshots are taken. `axe`: which rules run there; the markup
 * is checked in full once per device (light), and a dark look only for colour (see checkA11y).
 */
export const LOOKS: Array<{ scheme: ColorScheme; device: DeviceName; axe: 'all' | 'colour' }> = [
  { scheme: 'light', device: 'desktop', axe: 'all' },
  { scheme: 'dark', device: 'desktop', axe: 'colour' },
  { scheme: 'light', device: 'phone', axe: 'all' },
  { scheme: 'dark', device: 'phone', axe: 'colour' },
];

/**
 * A fresh browser context (its own cookies) on `baseURL` with one page. `clipboard` grants the page
 * clipboard access for that origin, so a copy button's result can be read back. `a11y` loads axe-core into
 * every document the context opens (cheaper than checkA11y evaluating it after each navigation: Chromium
 * reuses the compiled script).
 */
export async function openPage(
  browser: Browser,
  opts: { baseURL: string; scheme?: ColorScheme; device?: DeviceName; clipboard?: boolean; a11y?: boolean },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    baseURL: opts.baseURL,
    colorScheme: opts.scheme ?? 'light',
    ...DEVICES[opts.device ?? 'desktop'],
    deviceScaleFactor: 1,
    reducedMotion: 'reduce',
  });
  if (opts.a11y) await context.addInitScript({ content: axeSource() });
  if (opts.clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(opts.baseURL).origin });
  const page = await context.newPage();
  return { context, page };
}

let axe: string | null = null;
const axeSource = () => (axe ??= fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));

/** Impacts that fail a page (the issue: "no serious or critical violations"). */
const FAILING_IMPACTS = new Set(['serious', 'critical']);

/**
 * Runs axe-core over the page as it is now and throws on any serious or critical violation, listing each rule,
 * its help URL and the elements that break it. `rules: 'colour'` runs only the colour rules (contrast), for a
 * second colour scheme of a page whose markup was checked in full already: the scheme changes nothing else, and
 * a full run costs about a second. The source is evaluated through the DevTools protocol, which the page's
 * Content-Security-Policy (scripts only from /-/static/) does not apply to.
 */
export async function checkA11y(page: Page, label: string, rules: 'all' | 'colour' = 'all'): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource());
  const options =
    rules === 'colour' ? { resultTypes: ['violations'], runOnly: { type: 'tag', values: ['cat.color'] } } : { resultTypes: ['violations'] };
  const results = await page.evaluate(async (opts) => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<AxeResults> } }).axe;
    return axe.run(document, opts);
  }, options);
  const failing = results.violations.filter((v) => FAILING_IMPACTS.has(v.impact ?? ''));
  if (failing.length)
    throw new Error(`axe: ${label} (${page.url()}) has ${failing.length} serious or critical violation(s):\n${describe(failing)}`);
}

function describe(violations: Result[]): string {
  return violations
    .map((v) => {
      const nodes = v.nodes
        .slice(0, 5)
        .map((n) => `    ${n.target.join(' ')}: ${(n.failureSummary ?? '').replace(/\s+/g, ' ').trim()}`)
        .join('\n');
      const more = v.nodes.length > 5 ? `\n    … and ${v.nodes.length - 5} more` : '';
      return `  ${v.id} [${v.impact}] ${v.help} (${v.helpUrl})\n${nodes}${more}`;
    })
    .join('\n');
}

/** Saves a full-page screenshot as `<name>.png` under SCREENSHOTS_DIR and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  const file = path.join(SCREENSHOTS_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}

/** How far the page is wider than the screen, in CSS pixels (0 when nothing makes it scroll sideways). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth));
}

/** The focused element's visible focus indicator: its outline, or null when focus is not drawn (or nothing has focus). */
export async function focusIndicator(page: Page): Promise<{ element: string; outline: string } | null> {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    const width = Number.parseFloat(style.outlineWidth);
    const rect = el.getBoundingClientRect();
    const onScreen =
      rect.width > 0 && rect.height > 0 && rect.right > 0 && rect.bottom > 0 && rect.left < innerWidth && rect.top < innerHeight;
    if (style.outlineStyle === 'none' || !(width >= 2) || !onScreen) return null;
    const name = el.getAttribute('id') ?? el.getAttribute('name') ?? el.textContent?.trim() ?? '';
    return { element: `${el.tagName.toLowerCase()} ${name}`, outline: `${style.outlineWidth} ${style.outlineStyle} ${style.outlineColor}` };
  });
}
