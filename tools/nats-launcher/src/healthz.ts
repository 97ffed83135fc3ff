import { get } from 'node:http';

/**
 * Asks a nats-server monitor endpoint whether the server is healthy (JetStream included when
 * enabled; in a cluster, the JetStream meta leader must be known). Works whatever client
 * authentication or TLS the server uses, since the monitor port is plain HTTP.
 *
 * @returns `true` for `{"status":"ok"}`, `false` for any other answer or a connection error.
 */
export function isHealthy(monitorUrl: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolveHealth) => {
    const request = get(`${monitorUrl}/healthz`, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        try {
          resolveHealth(res.statusCode === 200 && JSON.parse(body).status === 'ok');
        } catch {
          resolveHealth(false);
        }
      });
      res.on('error', () => resolveHealth(false));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolveHealth(false));
  });
}
