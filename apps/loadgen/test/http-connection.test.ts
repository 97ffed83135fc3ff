import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KeepAliveConnection, RequestFailure } from '../src/http-connection.js';
import { parseEndpoint } from '../src/target.js';

const REQUEST = Buffer.from('POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}');

/** A raw TCP server answering each request with `answer(socket, n)` (n counts requests on the socket). */
async function rawServer(answer: (socket: Socket, n: number) => void): Promise<Server> {
  const server = createServer((socket) => {
    let n = 0;
    let seen = '';
    socket.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      while (seen.includes('\r\n\r\n{}')) {
        seen = seen.slice(seen.indexOf('\r\n\r\n{}') + 6);
        answer(socket, n++);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

const endpointOf = (server: Server) => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return parseEndpoint(`http://127.0.0.1:${address.port}/x`);
};

/** Writes `pieces` one macrotask apart, so the client reads them separately. */
async function dribble(socket: Socket, pieces: string[]): Promise<void> {
  for (const piece of pieces) {
    socket.write(piece);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('KeepAliveConnection', () => {
  let server: Server | undefined;
  let connection: KeepAliveConnection | undefined;
  afterEach(async () => {
    connection?.close();
    if (server) await new Promise((r) => server!.close(r));
  });

  it('reads responses split across reads (head, body, chunked) and reuses the connection', async () => {
    server = await rawServer((socket, n) => {
      const status = 200 + n;
      if (n === 0)
        void dribble(socket, [`HTTP/1.1 ${status} OK\r\nContent-Le`, 'ngth: 5\r\n\r\nab', 'cde']);
      else if (n === 1)
        void dribble(socket, [
          `HTTP/1.1 ${status} OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n`,
          '0\r\n\r\n',
        ]);
      else socket.write(`HTTP/1.1 ${status} OK\r\nContent-Length: 2\r\n\r\n{}`);
    });
    let connections = 0;
    server.on('connection', () => connections++);
    connection = new KeepAliveConnection(endpointOf(server));
    expect(await connection.request(REQUEST)).toEqual({ status: 200 });
    expect(await connection.request(REQUEST)).toEqual({ status: 201 });
    expect(await connection.request(REQUEST)).toEqual({ status: 202 });
    expect(connections).toBe(1);
  });

  it('reports a response that is not HTTP as bad_response', async () => {
    server = await rawServer((socket) => socket.write('SSH-2.0-OpenSSH\r\n\r\n'));
    connection = new KeepAliveConnection(endpointOf(server));
    const failure = await connection.request(REQUEST).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RequestFailure);
    expect((failure as RequestFailure).reason).toBe('bad_response');
  });
});
