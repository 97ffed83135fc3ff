import { connect, type Socket } from 'node:net';

/** The HTTP/2 connection preface (RFC 9113 §3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** One HTTP/2 frame: 9-byte header (length, type, flags, stream id), then the payload. */
export function h2Frame(type: number, flags: number, streamId: number, payload = Buffer.alloc(0)) {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** A HEADERS frame with END_STREAM | END_HEADERS for `GET http://x<path>` (HPACK, no Huffman). */
export function getHeaders(streamId: number, path: string): Buffer {
  const literal = (name: string, value: string) =>
    Buffer.concat([
      Buffer.from([0x00, name.length]),
      Buffer.from(name, 'latin1'),
      Buffer.from([value.length]),
      Buffer.from(value, 'latin1'),
    ]);
  // 0x82 = :method GET, 0x86 = :scheme http (HPACK static table).
  const block = Buffer.concat([
    Buffer.from([0x82, 0x86]),
    literal(':path', path),
    literal(':authority', 'x'),
  ]);
  return h2Frame(0x1, 0x5, streamId, block);
}

/** An empty SETTINGS frame. */
export const SETTINGS = h2Frame(0x4, 0, 0);
/** A client GOAWAY: last stream 0, NO_ERROR. */
export const GOAWAY = h2Frame(0x7, 0, 0, Buffer.alloc(8));
/** A DATA frame on stream 0: a connection error (RFC 9113 §6.1). */
export const DATA_ON_STREAM_0 = h2Frame(0x0, 0, 0, Buffer.from('x'));

/**
 * Opens a TCP connection, writes `bytes` in one write, and after `holdMs` resets it
 * (RST, not FIN) or, with `reset: false`, destroys it. Resolves when done; never rejects.
 */
export function sendAndReset(
  port: number,
  bytes: Buffer,
  holdMs: number,
  reset = true,
): Promise<void> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.write(bytes);
      setTimeout(() => {
        if (reset) socket.resetAndDestroy();
        else socket.destroy();
        resolve();
      }, holdMs);
    });
    socket.on('error', () => resolve());
  });
}

/** Runs `task` `count` times, `concurrency` at a time, until done or `stop()` is true. */
export async function repeat(
  count: number,
  concurrency: number,
  task: () => Promise<void>,
  stop: () => boolean = () => false,
): Promise<number> {
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < count && !stop()) {
        started++;
        await task();
      }
    }),
  );
  return started;
}
