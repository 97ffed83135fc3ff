// Real-time flag updates in a Node process.
//
//   FLAGSMITH_ENVIRONMENT_KEY=<key> node examples/node.mjs
//
// FLAGSMITH_REALTIME_URL  real-time service (default: Flagsmith's hosted https://realtime.flagsmith.com/)
// FLAGSMITH_API_URL       flags API fetched on each newer timestamp (default: https://edge.api.flagsmith.com/api/v1/);
//                         set it to an empty string to only print the timestamps.
import { subscribe } from '@flagsmith-rt/client';

const environmentKey = process.env.FLAGSMITH_ENVIRONMENT_KEY;
if (!environmentKey) {
  console.error('Set FLAGSMITH_ENVIRONMENT_KEY to your client-side environment key.');
  process.exit(2);
}
const apiUrl = process.env.FLAGSMITH_API_URL ?? 'https://edge.api.flagsmith.com/api/v1/';

async function fetchFlags(updatedAt, signal) {
  const response = await fetch(new URL('flags/', apiUrl), {
    headers: { 'X-Environment-Key': environmentKey },
    signal,
  });
  if (!response.ok) throw new Error(`The flags API answered ${response.status}`);
  const flags = await response.json();
  console.log(`flags for ${updatedAt}: ${flags.length} features`);
}

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());

subscribe({
  environmentKey,
  baseUrl: process.env.FLAGSMITH_REALTIME_URL || undefined,
  signal: stop.signal,
  fetchFlags: apiUrl ? fetchFlags : undefined,
  onUpdate: (updatedAt) => console.log(`update ${updatedAt}`),
  onStateChange: ({ state, delayMs }) =>
    console.log(`state ${state}${delayMs === undefined ? '' : ` (retry in ${delayMs} ms)`}`),
  onError: (error) => console.error(`${error.code}: ${error.message}`),
});
