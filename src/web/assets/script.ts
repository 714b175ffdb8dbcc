/**
 * The page script, the only JavaScript the UI has: search-as-you-type (replaces the results list with the server's
 * own rendering of it) and copy buttons. Every page works without it.
 */
export const PAGE_SCRIPT = `
(() => {
  'use strict';
  document.addEventListener('click', async (event) => {
    const button = event.target instanceof Element ? event.target.closest('button[data-copy]') : null;
    if (!button) return;
    const source = document.getElementById(button.getAttribute('data-copy'));
    if (!source) return;
    const text = source.textContent || '';
    let copied = false;
    try {
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      copied = document.execCommand('copy');
    }
    const label = button.textContent;
    button.textContent = copied ? 'Copied' : 'Press Ctrl+C';
    setTimeout(() => { button.textContent = label; }, 1500);
  });

  const form = document.querySelector('form[data-live-search]');
  const results = document.getElementById('results');
  if (!form || !results) return;
  let timer = 0;
  let controller = null;
  form.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const params = new URLSearchParams(new FormData(form));
      const url = form.getAttribute('action') + '?' + params.toString();
      if (controller) controller.abort();
      controller = new AbortController();
      try {
        const response = await fetch(url + '&fragment=1', { signal: controller.signal, headers: { accept: 'text/html' } });
        if (!response.ok) return;
        results.innerHTML = await response.text();
        history.replaceState(null, '', url);
      } catch {}
    }, 150);
  });
})();
`;
