/** Reading a package page as a user does: the snippets exactly as shown (entities decoded), the text without tags. */

/** Decodes the entities preact writes into text (`&amp;`, `&lt;`, `&gt;`, `&quot;`, numeric ones). */
export function decodeEntities(html: string): string {
  return html.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_m, e: string) => {
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (e[0] !== '#') return named[e.toLowerCase()];
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10));
  });
}

/** The page's copyable snippets by label, as the copy button copies them. */
export function pageSnippets(html: string): Map<string, string> {
  const out = new Map<string, string>();
  const figure = /<figure class="snippet"><figcaption><span>([^<]*)<\/span>.*?<code id="[^"]+">([^<]*)<\/code>/gs;
  for (const m of html.matchAll(figure)) out.set(decodeEntities(m[1]), decodeEntities(m[2]));
  return out;
}

/** The text of an HTML fragment without tags, whitespace collapsed: what a reader sees. */
export function visibleText(html: string): string {
  return decodeEntities(html.replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();
}
