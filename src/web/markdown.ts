/**
 * READMEs to HTML: Markdown with raw HTML disabled (markdown-it escapes it), then sanitised against an
 * allow-list as a second wall (sanitize-html): no scripts, styles, event handlers, `javascript:`/`data:` URLs,
 * frames or forms. Images only from https, lazily loaded and sized by the stylesheet. Rendered once per
 * README and kept, so a package page costs a lookup.
 */
import { createHash } from 'node:crypto';
import MarkdownIt from 'markdown-it';
import sanitizeHtml from 'sanitize-html';
import { LRUCache } from 'lru-cache';

const markdown = new MarkdownIt({ html: false, linkify: true, typographer: false });

const ALLOWED: sanitizeHtml.IOptions = {
  allowedTags: [
    'h1',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'p',
    'br',
    'hr',
    'blockquote',
    'pre',
    'code',
    'em',
    'strong',
    's',
    'del',
    'ul',
    'ol',
    'li',
    'a',
    'img',
    'table',
    'thead',
    'tbody',
    'tr',
    'th',
    'td',
    'sup',
    'sub',
    'kbd',
  ],
  allowedAttributes: { a: ['href', 'title'], img: ['src', 'alt', 'title'], ol: ['start'], th: ['style'], td: ['style'], code: ['class'] },
  allowedStyles: { th: { 'text-align': [/^(left|right|center)$/] }, td: { 'text-align': [/^(left|right|center)$/] } },
  allowedClasses: { code: [/^language-[\w+-]+$/] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['https'] },
  allowProtocolRelative: false,
  transformTags: {
    a: (tagName, attribs) => ({ tagName, attribs: { ...attribs, rel: 'nofollow noopener noreferrer ugc' } }),
    img: (tagName, attribs) => ({ tagName, attribs: { ...attribs, loading: 'lazy', decoding: 'async', referrerpolicy: 'no-referrer' } }),
    // A code block wider than the column scrolls sideways; keyboard users need to focus it to scroll.
    pre: (tagName, attribs) => ({ tagName, attribs: { ...attribs, tabindex: '0' } }),
    // The page has its own h1 (the package) and h2 (README): a README's headings sit below them, as on crates.io.
    h1: 'h3',
    h2: 'h4',
    h3: 'h5',
    h4: 'h6',
    h5: 'h6',
  },
  allowedSchemesAppliedToAttributes: ['href', 'src'],
  // An image whose address is not https (relative to a repository we do not serve, or data:) shows its alt text.
  exclusiveFilter: (frame) => frame.tag === 'img' && !/^https:\/\//i.test(frame.attribs.src ?? ''),
};
// The `rel`, `loading`, … set by transformTags must survive the attribute filter.
ALLOWED.allowedAttributes = {
  ...(ALLOWED.allowedAttributes as Record<string, string[]>),
  a: ['href', 'title', 'rel'],
  img: ['src', 'alt', 'title', 'loading', 'decoding', 'referrerpolicy'],
  pre: ['tabindex'],
};

// Keyed by a digest of the Markdown, not by (repo, package, version): a README can change under the same version (a
// Brioche tag moved to another project, on this node or another), and the rendering of the same text never does.
const rendered = new LRUCache<string, string>({ maxSize: 32 * 1024 * 1024, sizeCalculation: (html, key) => html.length + key.length });

/** Safe HTML for a README's Markdown (renders are cached by the text's digest). */
export function renderReadme(source: string): string {
  const key = createHash('sha256').update(source).digest('base64');
  const hit = rendered.get(key);
  if (hit !== undefined) return hit;
  const html = sanitizeHtml(markdown.render(source), ALLOWED);
  rendered.set(key, html);
  return html;
}
