// Bundled by serve.mjs. Query parameters: ?key=<environment key>&baseUrl=<service>&api=<flags API or empty>
import { subscribe } from '@flagsmith-rt/client';

const params = new URLSearchParams(location.search);
const environmentKey = params.get('key') ?? 'n9fbf9h3v4fFgH3U3ngWhb';
const apiUrl = params.get('api') ?? 'https://edge.api.flagsmith.com/api/v1/';
const stateElement = document.getElementById('state');
const list = document.getElementById('updates');

const show = (text) => {
  const item = document.createElement('li');
  item.textContent = text;
  list.append(item);
};

const subscription = subscribe({
  environmentKey,
  baseUrl: params.get('baseUrl') ?? undefined,
  // Fetch the flags (here with the Flagsmith REST API) only when they really changed.
  fetchFlags: apiUrl
    ? async (updatedAt, signal) => {
        const response = await fetch(new URL('flags/', apiUrl), {
          headers: { 'X-Environment-Key': environmentKey },
          signal,
        });
        if (!response.ok) throw new Error(`flags API answered ${response.status}`);
        show(`flags at ${updatedAt}: ${(await response.json()).length} features`);
      }
    : undefined,
  onUpdate: (updatedAt) => show(`update ${new Date(updatedAt * 1000).toISOString()}`),
  onStateChange: ({ state }) => {
    stateElement.textContent = state;
  },
  onError: (error) => console.warn(error.code, error.message),
});

document.getElementById('close').addEventListener('click', () => subscription.close());
