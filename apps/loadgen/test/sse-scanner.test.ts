import { encodeUpdateFrame, KEEPALIVE_FRAME } from '@flagsmith-rt/protocol';
import { describe, expect, it } from 'vitest';
import { ChunkedDecoder, parseResponseHead } from '../src/http-response.js';
import { SseLineScanner } from '../src/sse-scanner.js';

function scan(parts: Array<string | Uint8Array>): number[] {
  const values: number[] = [];
  const scanner = new SseLineScanner((v) => values.push(v));
  for (const p of parts) {
    const buf = Buffer.from(p as string);
    scanner.push(buf, 0, buf.length);
  }
  return values;
}

describe('SseLineScanner', () => {
  it('reads updated_at from the protocol frame bytes, ignoring keep-alives and event lines', () => {
    const values = scan([
      KEEPALIVE_FRAME,
      encodeUpdateFrame(1735229888.76, { id: true }),
      KEEPALIVE_FRAME,
      encodeUpdateFrame(1735229889.5),
    ]);
    expect(values).toEqual([1735229888.76, 1735229889.5]);
  });

  it('joins a data line cut across reads at every possible point', () => {
    const frame = Buffer.from(encodeUpdateFrame(1763900000.123));
    for (let cut = 1; cut < frame.length; cut++) {
      expect(scan([frame.subarray(0, cut), frame.subarray(cut)])).toEqual([1763900000.123]);
    }
  });

  it('reads a bare timestamp as the data (a peer relaying a plain body) and CRLF lines', () => {
    expect(scan(['id: 1:0\r\ndata: 1763900000.5\r\n\r\n'])).toEqual([1763900000.5]);
  });

  it('reports NaN for a data line without a number', () => {
    expect(scan(['data: hello\n\n'])).toEqual([Number.NaN]);
  });
});

describe('ChunkedDecoder', () => {
  it('strips chunk framing whatever the read boundaries are', () => {
    const events = ['data: {"updated_at": 1.5}\n\n', 'data: {"updated_at": 2.5}\n\n'];
    const wire = Buffer.from(
      events.map((e) => `${Buffer.byteLength(e).toString(16)};ext=1\r\n${e}\r\n`).join(''),
    );
    for (let cut = 1; cut < wire.length; cut++) {
      const values: number[] = [];
      const scanner = new SseLineScanner((v) => values.push(v));
      const decoder = new ChunkedDecoder((b, s, e) => scanner.push(b, s, e));
      decoder.push(wire, 0, cut);
      decoder.push(wire, cut, wire.length);
      expect(values).toEqual([1.5, 2.5]);
    }
  });
});

describe('parseResponseHead', () => {
  it('waits for the blank line, then reads status, chunking, length and close', () => {
    expect(
      parseResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n')),
    ).toBeUndefined();
    expect(
      parseResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\ndata')),
    ).toMatchObject({
      status: 200,
      chunked: true,
      length: 47,
    });
    expect(
      parseResponseHead(
        Buffer.from('HTTP/1.1 503 No\r\nContent-Length: 12\r\nConnection: close\r\n\r\n'),
      ),
    ).toMatchObject({
      status: 503,
      chunked: false,
      contentLength: 12,
      close: true,
    });
    expect(parseResponseHead(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'))).toBeNull();
  });
});
