/** READMEs as the package page shows them: Markdown rendered, then sanitised. */
import { describe, expect, it } from 'vitest';
import { renderReadme } from './markdown.js';

describe('renderReadme', () => {
  it('lets a keyboard reach a code block, since a wide one scrolls sideways', () => {
    const html = renderReadme('```rust\nfn main() {}\n```\n');
    expect(html).toBe('<pre tabindex="0"><code class="language-rust">fn main() {}\n</code></pre>\n');
  });

  it('keeps no markup of its own: raw HTML is text, scripts and event handlers never survive', () => {
    const html = renderReadme('<pre tabindex="5" onclick="x()">hi</pre>\n\n<script>alert(1)</script>\n\n[a](javascript:alert(1))');
    expect(html).not.toMatch(/<script|<pre|<[^>]*onclick|href="javascript/);
    expect(html).toContain('&lt;script&gt;');
  });
});
