import { get, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';

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
 * service: for descriptor counts taken right after. `secure` speaks HTTPS.
 */
export async function readMetricClosing(
  port: number,
  name: string,
  secure = false,
): Promise<number | undefined> {
  const { status, body } = await getClosing(port, '/metricsz', secure);
  return status === 200 ? sampleOf(body, name) : undefined;
}

/** The service's Node.js version (`nodejs_version_info`), on a connection of its own. */
export async function serviceNodeVersion(
  port: number,
  secure = false,
): Promise<string | undefined> {
  const { body } = await getClosing(port, '/metricsz', secure);
  return /^nodejs_version_info\{version="([^"]+)"/m.exec(body)?.[1];
}

/** GETs `path` on a connection of its own (closed after); the status, or 0 if it failed. */
export async function probeClosing(
  port: number,
  path: string,
  secure = false,
  timeoutMs = 5_000,
): Promise<number> {
  return (await getClosing(port, path, secure, timeoutMs)).status;
}

/**
 * `GET path` over HTTP/1.1 on a connection of its own (`Connection: close`); status 0 if it
 * failed. `secure` speaks HTTPS, accepting any certificate (the peer is the service under test).
 */
function getClosing(
  port: number,
  path: string,
  secure: boolean,
  timeoutMs = 5_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const failed = { status: 0, body: '' };
    const options = { host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs };
    const onResponse = (response: IncomingMessage): void => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', () => resolve(failed));
    };
    const request = secure
      ? httpsGet({ ...options, rejectUnauthorized: false }, onResponse)
      : get(options, onResponse);
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(failed));
  });
}
