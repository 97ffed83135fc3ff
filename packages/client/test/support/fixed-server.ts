import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny HTTP server for what the real service never does: answer the stream
 * request with a fixed status (204, 401) or with a hand-written stream full of
 * comments, unknown events and malformed data. It sends CORS headers so that
 * the browser run sees the real status.
 */
export interface FixedServer {
  readonly url: string;
  /** Number of stream requests received. */
  readonly requests: number;
  stop(): Promise<void>;
}

/** What the server answers to every request. */
export type FixedAnswer =
  | { status: number; retryAfter?: number }
  | {
      stream: string /** End the response this long after the stream was written. */;
      closeAfterMs?: number;
    };

/** Starts a {@link FixedServer} on a random port of 127.0.0.1. */
export async function startFixedServer(answer: FixedAnswer): Promise<FixedServer> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Headers', '*');
      res.writeHead(204).end();
      return;
    }
    requests++;
    if ('status' in answer) {
      if (answer.retryAfter !== undefined) {
        res.setHeader('Retry-After', String(answer.retryAfter));
        // Browsers hide Retry-After from cross-origin scripts unless it is exposed.
        res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
      }
      res.writeHead(answer.status, { 'Content-Type': 'application/json' });
      res.end(answer.status === 204 ? undefined : '{"error":"fixed answer"}');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.write(answer.stream);
    if (answer.closeAfterMs !== undefined) setTimeout(() => res.end(), answer.closeAfterMs);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
