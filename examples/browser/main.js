// Loads the count-vowels plug-in by URL and shows what it returns for the text in the form.
// The plug-in keeps a running total in a var, so each click adds to `total`.
import createPlugin from 'plughost';

const result = document.querySelector('#result');
const input = document.querySelector('#input');

/** Shows `text` in the page; `state` ("done" or "failed") tells a reader (and the browser test) the call settled. */
function show(text, state) {
  result.textContent = text;
  result.dataset.state = state;
}

try {
  // Built by `npm run build` (plugins/count-vowels.ts); fetched, compiled and run in this page.
  const plugin = await createPlugin(new URL('../../build/plugins/count-vowels.wasm', import.meta.url));
  const count = async () => {
    show('counting…', 'running');
    try {
      const output = await plugin.call('count_vowels', input.value);
      show(output?.text() ?? '(no output)', 'done');
    } catch (err) {
      show(`${err.name}: ${err.message}`, 'failed');
    }
  };
  document.querySelector('#form').addEventListener('submit', (event) => {
    event.preventDefault();
    void count();
  });
  await count();
} catch (err) {
  show(`${err.name}: ${err.message}`, 'failed');
}
