import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { plainStreamRequest } from '../src/stream-fast-path.js';
import { logLine, mainRunner } from './helpers/process.js';
import { waitFor } from './helpers/sse-client.js';

const MAIN = inject('mainPath');
const TOKEN = 'fast-path-token';
const ENV = 'n9fbf9h3v4fFgH3U3ngWhb';
const MAX = 16_384;
const head = (lines: string[]) => Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
const plain = (...fields: string[]) =>
  head([`GET /sse/environments/${ENV}/stream HTTP/1.1`, 'Host: x', ...fields]);

const { run, stopAll } = mainRunner(MAIN);
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await stopAll();
});

const key = (bytes: Buffer, max = MAX) => plainStreamRequest(bytes, max)?.environment;

describe('plainStreamRequest: which first bytes skip node:http', () => {
  it('takes a complete plain stream request head, with any ordinary fields', () => {
    expect(plainStreamRequest(plain(), MAX)).toEqual({ environment: ENV, lastEventId: undefined });
    expect(
      key(
        plain(
          'Accept: text/event-stream',
          'Cache-Control: no-cache',
          'X-Empty:',
          'Connection: keep-alive',
        ),
      ),
    ).toBe(ENV);
    expect(key(head([`GET /sse/environments/${ENV}/stream HTTP/1.1`, 'hOsT: y']))).toBe(ENV);
  });

  it('reads Last-Event-ID as the route does: a valid id, else none', () => {
    expect(plainStreamRequest(plain('Last-Event-ID:  1735229000.5 '), MAX)).toEqual({
      environment: ENV,
      lastEventId: 1735229000.5,
    });
    for (const invalid of ['Last-Event-ID:', 'Last-Event-ID: soon', 'last-event-id: -1']) {
      expect(plainStreamRequest(plain(invalid), MAX)).toEqual({
        environment: ENV,
        lastEventId: undefined,
      });
    }
  });

  it.each([
    ['no Host field', head([`GET /sse/environments/${ENV}/stream HTTP/1.1`, 'Accept: */*'])],
    ['Last-Event-ID twice', plain('Last-Event-ID: 1', 'Last-Event-ID: 2')],
    [
      'lastEventId in the query',
      head([`GET /sse/environments/${ENV}/stream?lastEventId=1 HTTP/1.1`, 'Host: x']),
    ],
    ['a body (Content-Length)', plain('Content-Length: 0')],
    ['a body (Transfer-Encoding)', plain('Transfer-Encoding: chunked')],
    ['Upgrade', plain('Upgrade: h2c', 'Connection: Upgrade')],
    ['Expect', plain('Expect: 100-continue')],
    ['HTTP/1.0', head([`GET /sse/environments/${ENV}/stream HTTP/1.0`, 'Host: x'])],
    ['HEAD', head([`HEAD /sse/environments/${ENV}/stream HTTP/1.1`, 'Host: x'])],
    ['another path', head([`GET /sse/environments/${ENV}/queue-change HTTP/1.1`, 'Host: x'])],
    ['a doubled slash', head([`GET //sse/environments/${ENV}/stream HTTP/1.1`, 'Host: x'])],
    ['a percent-encoded key', head(['GET /sse/environments/a%41/stream HTTP/1.1', 'Host: x'])],
    [
      'a key too long',
      head([`GET /sse/environments/${'a'.repeat(200)}/stream HTTP/1.1`, 'Host: x']),
    ],
    ['a field without a colon', plain('Broken')],
    ['a field name with a space', plain('Bad Name: 1')],
    ['a folded field (obs-fold)', plain('X-A: 1', ' folded')],
    ['a control character in a value', plain('X-A: a\x01b')],
    [
      'bytes after the head (pipelined)',
      Buffer.concat([plain(), Buffer.from('GET / HTTP/1.1\r\n')]),
    ],
  ])('leaves to node:http: %s', (_what, bytes) => {
    expect(plainStreamRequest(bytes, MAX)).toBeUndefined();
  });

  it('leaves a partial head, and one over MAX_HEADER_SIZE, to node:http', () => {
    const whole = plain();
    expect(plainStreamRequest(whole.subarray(0, whole.length - 2), MAX)).toBeUndefined();
    expect(plainStreamRequest(plain(`X-Big: ${'a'.repeat(300)}`), 256)).toBeUndefined();
  });
});

/** A raw connection that records what it receives and when it closed. */
async function raw(port: number) {
  const socket = connect({ port, host: '127.0.0.1' });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  let closed = false;
  socket.setEncoding('latin1');
  socket.on('data', (c: string) => {
    text += c;
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
  });
  return { socket, text: () => text, closed: () => closed };
}

async function scrape(port: number, series: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metricsz`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the service process: streams served from their first bytes', () => {
  // Both ways a cleartext connection is read first: sniffed for the h2 preface, or not.
  it.each(['on', 'off'])(
    'H2C=%s: answers exactly as the normal path does, refuses over MAX_SUBSCRIBERS, and a client FIN frees the stream at once',
    async (h2c) => {
      const r = run({
        PORT: '0',
        H2C: h2c,
        SSE_AUTHENTICATION_TOKEN: TOKEN,
        MAX_SUBSCRIBERS: '4',
        REFUSAL_HOLD_MS: '0',
        KEEPALIVE_INTERVAL: '60',
      });
      const ready = await logLine(r, (l) => l.msg === 'listening', 'the listening line');
      const port = Number(ready.port);
      const published = await fetch(
        `http://127.0.0.1:${port}/sse/environments/${ENV}/queue-change`,
        {
          method: 'POST',
          headers: { authorization: `Token ${TOKEN}` },
          body: '{"updated_at": 1735229000}',
        },
      );
      expect(published.status).toBe(200);

      // A plain request (the fast path), and one with `Content-Length: 0`, which a GET may carry
      // and which leaves it to node:http and Fastify: the same bytes, the Date field aside.
      const fast = await raw(port);
      fast.socket.write(plain());
      const normal = await raw(port);
      normal.socket.write(plain('Content-Length: 0'));
      const complete = (t: string) => t.includes('\r\n\r\n') && t.endsWith('\n\n\r\n');
      await waitFor(
        () => complete(fast.text()) && complete(normal.text()),
        'both heads and events',
      );
      const withoutDate = (t: string) => t.replace(/\r\nDate: [^\r]*/, '');
      expect(withoutDate(fast.text())).toBe(withoutDate(normal.text()));
      expect(fast.text()).toMatch(
        /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n[0-9a-f]+\r\nevent: environment_updated\n/,
      );
      expect(await scrape(port, 'flagsmith_sse_subscribers')).toBe(2);

      // A reconnect that saw the latest id gets no initial event, on either path.
      const resumedFast = await raw(port);
      resumedFast.socket.write(plain('Last-Event-ID: 1735229000'));
      const resumedNormal = await raw(port);
      resumedNormal.socket.write(plain('Last-Event-ID: 1735229000', 'Content-Length: 0'));
      const headOnly = (t: string) => /\r\n\r\n$/.test(t);
      await waitFor(
        () => headOnly(resumedFast.text()) && headOnly(resumedNormal.text()),
        'both resumed heads',
      );
      expect(withoutDate(resumedFast.text())).toBe(withoutDate(resumedNormal.text()));
      expect(await scrape(port, 'flagsmith_sse_subscribers')).toBe(4);

      // At MAX_SUBSCRIBERS a plain request gets the normal path's 503, in the JSON shape.
      const third = await raw(port);
      third.socket.write(plain());
      await waitFor(() => third.closed(), 'the refusal closing the connection');
      expect(third.text()).toMatch(/^HTTP\/1\.1 503 [\s\S]*"too_many_subscribers"/);

      // A client that closes its side leaves the hub now, not at the next keep-alive (60 s).
      fast.socket.end();
      await waitFor(
        async () => (await scrape(port, 'flagsmith_sse_subscribers')) === 3,
        'three streams left',
      );
      expect(normal.closed()).toBe(false);

      // Bytes sent after the head are read and dropped (as node:http does): 256 KiB of them
      // do not stop the socket reading, so the FIN behind them still frees the stream.
      const chatty = await raw(port);
      chatty.socket.write(plain());
      await waitFor(() => complete(chatty.text()), 'the chatty stream open');
      chatty.socket.end(Buffer.alloc(256 * 1024, 'x'));
      await waitFor(
        async () => (await scrape(port, 'flagsmith_sse_subscribers')) === 3,
        'the chatty stream gone',
      );
    },
  );
});
