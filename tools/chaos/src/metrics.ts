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
export async function readMetricClosing(port: number, name: string): Promise<number | undefined> {
  const text = await getClosing(port, '/metricsz');
  return text === undefined ? undefined : sampleOf(text, name);
}

/** The body of `GET path` on a connection of its own (`Connection: close`), or undefined. */
function getClosing(port: number, path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const request = get(
      { host: '127.0.0.1', port, path, agent: false, timeout: 5_000 },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => resolve(text));
        response.on('error', () => resolve(undefined));
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(undefined));
  });
}

/** The service's Node.js version (`nodejs_version_info`), on a connection of its own. */
export async function serviceNodeVersion(port: number): Promise<string | undefined> {
  const text = await getClosing(port, '/metricsz');
  return text === undefined
    ? undefined
    : /^nodejs_version_info\{version="([^"]+)"/m.exec(text)?.[1];
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
