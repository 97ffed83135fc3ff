import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of a real `apps/sse` that rewrites the stream's bytes: a service that
 * broke the wire in one chosen way, for checking that a test notices.
 */
export interface WireProxy {
  /** Base URL with a trailing slash, e.g. `http://127.0.0.1:PORT/`. */
  readonly url: string;
  /** Everything the proxy has written to its clients so far, after the rewrite. */
  forwarded(): string;
  stop(): Promise<void>;
}

/** Hop-by-hop headers: the proxy frames its own responses. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length']);

/**
 * Starts a {@link WireProxy} on a random port of 127.0.0.1 that forwards every request to
 * `upstream` and passes each piece of the response body through `rewrite` (events are tiny and
 * written whole by the service, so a piece holds whole events).
 */
export async function startWireProxy(
  upstream: string,
  rewrite: (text: string) => string,
): Promise<WireProxy> {
  const target = new URL(upstream);
  let forwarded = '';
  const server: Server = createServer((req, res) => {
    const headers: IncomingHttpHeaders = { ...req.headers, host: target.host };
    const upstreamReq = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers },
      (upstreamRes) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(upstreamRes.headers)) {
          if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
        }
        res.writeHead(upstreamRes.statusCode ?? 502, out);
        res.flushHeaders();
        upstreamRes.setEncoding('utf8');
        upstreamRes.on('data', (text: string) => {
          const rewritten = rewrite(text);
          forwarded += rewritten;
          res.write(rewritten);
        });
        upstreamRes.on('end', () => res.end());
        upstreamRes.on('error', () => res.destroy());
      },
    );
    upstreamReq.on('error', () => res.destroy());
    res.on('close', () => upstreamReq.destroy());
    req.pipe(upstreamReq);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    forwarded: () => forwarded,
    async stop() {
      if (!server.listening) return;
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
