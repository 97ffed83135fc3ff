import { get } from 'node:http';

/** Reads one sample from the service's Prometheus text (`/metricsz`), or undefined. */
export async function readMetric(baseUrl: string, name: string): Promise<number | undefined> {
  try {
    const response = await fetch(`${baseUrl}/metricsz`, { signal: AbortSignal.timeout(2_000) });
    return sampleOf(await response.text(), name);
  } catch {
    return undefined;
  }
}

/** The first sample of `name` in Prometheus text, or undefined. */
function sampleOf(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (line === undefined) return undefined;
  const value = Number(line.slice(line.lastIndexOf(' ') + 1));
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Like {@link readMetric}, on a connection of its own that closes after the answer
 * (`Connection: close`), so reading leaves no keep-alive socket (and descriptor) behind in the
 * service: for descriptor counts taken right after.
 */
export function readMetricClosing(port: number, name: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = get(
      { host: '127.0.0.1', port, path: '/metricsz', agent: false, timeout: 5_000 },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => resolve(sampleOf(text, name)));
        response.on('error', () => resolve(undefined));
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(undefined));
  });
}

/** GETs `path` on a connection of its own (closed after); the status, or 0 if it failed. */
export function probeClosing(port: number, path: string, timeoutMs = 5_000): Promise<number> {
  return new Promise((resolve) => {
    const request = get(
      { host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', () => resolve(0));
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}
