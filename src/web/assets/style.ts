/** The one stylesheet: system fonts, light and dark colours from the system setting, visible focus, narrow screens. */
export const STYLE_CSS = `
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1c1e21; --muted: #57606a; --line: #d0d7de; --panel: #f6f8fa;
  --accent: #0b5cad; --accent-fg: #ffffff; --warn-bg: #fff1e5; --warn-fg: #8a3b00; --ok: #1a7f37;
  --focus: #d4570b; --code-bg: #f3f4f6; --control-line: #6e7781;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1216; --fg: #e6e8eb; --muted: #a3acb7; --line: #30363d; --panel: #161b22;
    --accent: #6cb6ff; --accent-fg: #0f1216; --warn-bg: #3b2300; --warn-fg: #ffb36b; --ok: #56d364;
    --focus: #ffa657; --code-bg: #1c2128; --control-line: #8b949e;
  }
}
*, *::before, *::after { box-sizing: border-box; }
html { font-size: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
}
a { color: var(--accent); }
a:hover { text-decoration-thickness: 2px; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: .5rem 1rem; }
.skip:focus { left: 1rem; z-index: 10; }
header.site { border-bottom: 1px solid var(--line); background: var(--panel); }
header.site .bar { max-width: 72rem; margin: 0 auto; padding: .6rem 1rem; display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
header.site .brand { font-weight: 700; font-size: 1.15rem; color: var(--fg); text-decoration: none; }
header.site nav ul { list-style: none; display: flex; gap: .25rem 1rem; margin: 0; padding: 0; flex-wrap: wrap; align-items: center; }
header.site form.search { flex: 1 1 16rem; display: flex; gap: .4rem; }
@media (max-width: 40rem) { header.site .bar { row-gap: .5rem; } }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
footer.site { max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: var(--muted); font-size: .875rem; }
h1 { font-size: 1.75rem; line-height: 1.25; margin: .5rem 0; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 .5rem; }
input, select, button, textarea { font: inherit; color: inherit; }
input[type=search], input[type=text], input[type=password], input[type=date], select {
  padding: .45rem .6rem; border: 1px solid var(--control-line); border-radius: 6px; background: var(--bg); min-width: 0;
}
input[type=search] { flex: 1 1 auto; }
button, .button {
  padding: .45rem .9rem; border: 1px solid var(--accent); border-radius: 6px; background: var(--accent);
  color: var(--accent-fg); cursor: pointer; text-decoration: none; display: inline-block;
}
button.secondary { background: transparent; color: var(--accent); }
button.danger { background: transparent; color: var(--warn-fg); border-color: var(--warn-fg); }
button.link { background: none; border: none; color: var(--accent); padding: 0; text-decoration: underline; }
.hero { padding: 1.5rem 0 1rem; }
.hero form { display: flex; gap: .5rem; max-width: 40rem; }
.hero input[type=search] { font-size: 1.1rem; padding: .6rem .8rem; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; border: 1px solid var(--line); font-size: .8rem; color: var(--muted); white-space: nowrap; }
.badge.format { border-color: var(--accent); color: var(--accent); }
.badge.yanked, .badge.warn { background: var(--warn-bg); color: var(--warn-fg); border-color: var(--warn-fg); }
.badge.ok { color: var(--ok); border-color: var(--ok); }
.badge.private { background: var(--warn-bg); color: var(--warn-fg); border-color: transparent; }
.grid { display: grid; gap: 1.5rem; grid-template-columns: minmax(0, 1fr) 20rem; }
@media (max-width: 50rem) { .grid { grid-template-columns: minmax(0, 1fr); } }
.cards { display: grid; gap: .75rem; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); padding: 0; list-style: none; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; background: var(--panel); }
.card h3 { margin: 0 0 .25rem; font-size: 1.05rem; overflow-wrap: anywhere; }
ol.hits, ul.plain { list-style: none; padding: 0; margin: 0; }
ol.hits li { padding: .75rem 0; border-bottom: 1px solid var(--line); }
ol.hits .name { font-weight: 600; font-size: 1.05rem; overflow-wrap: anywhere; }
ol.hits p { margin: .2rem 0 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; }
td time { white-space: nowrap; }
@media (max-width: 40rem) { th, td { padding: .4rem .3rem; } }
.table-wrap { overflow-x: auto; }
aside section { border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; margin-bottom: 1rem; background: var(--panel); }
aside h2 { margin-top: 0; font-size: 1rem; }
.snippet { margin: 0 0 .75rem; }
.snippet figcaption { font-size: .875rem; color: var(--muted); display: flex; justify-content: space-between; align-items: center; gap: .5rem; }
.snippet pre { margin: .25rem 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: .875rem; }
pre { background: var(--code-bg); padding: .6rem .75rem; border-radius: 6px; overflow-x: auto; }
code { background: var(--code-bg); padding: .05rem .3rem; border-radius: 4px; }
pre code { background: none; padding: 0; }
.copy { padding: .1rem .6rem; font-size: .8rem; }
.readme { overflow-wrap: anywhere; }
.readme img { max-width: 100%; height: auto; }
.readme table { width: auto; }
.notice { border-left: 4px solid var(--accent); background: var(--panel); padding: .6rem 1rem; margin: 1rem 0; }
.notice.error { border-color: var(--warn-fg); background: var(--warn-bg); color: var(--warn-fg); }
.secret { font-size: 1rem; user-select: all; overflow-wrap: anywhere; }
form.stack { display: grid; gap: .75rem; max-width: 36rem; }
form.stack label { display: grid; gap: .25rem; font-weight: 600; }
fieldset { border: 1px solid var(--line); border-radius: 6px; }
form.stack label.choice, label.choice { display: inline-flex; gap: .35rem; align-items: center; font-weight: normal; margin-right: 1rem; }
nav.sub ul { list-style: none; display: flex; gap: 1rem; flex-wrap: wrap; margin: .25rem 0 1rem; padding: 0; }
nav.sub a[aria-current] { font-weight: 600; text-decoration: none; }
.filters { display: flex; gap: .5rem; flex-wrap: wrap; align-items: end; margin: .5rem 0 1rem; }
.filters label { display: grid; gap: .15rem; font-size: .875rem; }
nav.pages { display: flex; gap: 1rem; margin: 1rem 0; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .25rem .75rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
`;
