import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Random } from './random.js';

/** The HTTP/2 connection preface (RFC 9113 §3.4). */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Frame types (RFC 9113 §6). */
const DATA = 0x0;
const HEADERS = 0x1;
const PRIORITY = 0x2;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

/** One frame: 9-byte header (length, type, flags, stream id), then the payload. */
export function h2Frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([header, payload]);
}

/** An HPACK block for `GET http://x<path>` (literal fields, no Huffman). */
function getBlock(path: string): Buffer {
  const literal = (name: string, value: string) =>
    Buffer.concat([
      Buffer.from([0x00, name.length]),
      Buffer.from(name, 'latin1'),
      Buffer.from([value.length]),
      Buffer.from(value, 'latin1'),
    ]);
  // 0x82 = :method GET, 0x86 = :scheme http (HPACK static table).
  return Buffer.concat([
    Buffer.from([0x82, 0x86]),
    literal(':path', path),
    literal(':authority', 'x'),
  ]);
}

function settings(pairs: Array<[number, number]>): Buffer {
  const payload = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return h2Frame(SETTINGS, 0, 0, payload);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

/** The kinds of hostile HTTP/2 connection of the h2 phase (issue #11). */
export const H2_CASE_KINDS = [
  'goaway-then-headers',
  'data-on-stream-0',
  'headers-on-stream-0',
  'window-update-on-stream-0',
  'settings-edge-values',
  'ping-flood',
  'rapid-reset',
  'continuation-flood',
  'priority-flood',
  'frames-after-connection-error',
  'headers-without-end-headers-held',
] as const;

/** One of {@link H2_CASE_KINDS}. */
export type H2CaseKind = (typeof H2_CASE_KINDS)[number];

/** One hostile connection: what to write, how long to hold it, how to end it. */
export interface H2Case {
  /** The kind, for the figures. */
  kind: H2CaseKind;
  /** Written in one write after connecting. */
  bytes: Buffer;
  /** Milliseconds between the write and the end; `undefined` holds it until the phase ends. */
  holdMs: number | undefined;
  /** End with a TCP reset (RST) rather than a FIN. */
  reset: boolean;
}

/** The `index`-th connection of a mixed run: kinds in turn, details seeded. */
export function h2Case(rng: Random, index: number, streamKey: string): H2Case {
  return h2CaseOfKind(H2_CASE_KINDS[index % H2_CASE_KINDS.length]!, rng, streamKey);
}

/**
 * One connection of `kind`, details seeded. Paths are the stream route of `streamKey` (so a
 * stream registers in the hub before the fault) or `/livez`.
 */
export function h2CaseOfKind(kind: H2CaseKind, rng: Random, streamKey: string): H2Case {
  const streamPath = `/sse/environments/${streamKey}/stream`;
  const path = rng.chance(0.5) ? streamPath : '/livez';
  const start = [H2_PREFACE, h2Frame(SETTINGS, 0, 0)];
  const get = (id: number, p = path, flags = END_STREAM | END_HEADERS): Buffer =>
    h2Frame(HEADERS, flags, id, getBlock(p));
  const done = (bytes: Buffer[], holdMs: number | undefined, reset = true): H2Case => ({
    kind,
    bytes: Buffer.concat(bytes),
    holdMs,
    reset,
  });
  switch (kind) {
    case 'goaway-then-headers':
      // The sequence that aborts Node 20 (a new stream on a closing session), reset after 250 ms.
      return done([...start, h2Frame(GOAWAY, 0, 0, Buffer.alloc(8)), get(1)], 250);
    case 'data-on-stream-0':
      return done([...start, get(1, streamPath), h2Frame(DATA, 0, 0, Buffer.from('x'))], 50, false);
    case 'headers-on-stream-0':
      return done([...start, get(0)], 50);
    case 'window-update-on-stream-0':
      // 0 is a connection error; 2^31-1 on top of the initial window overflows it.
      return done(
        [
          ...start,
          get(1, streamPath),
          h2Frame(WINDOW_UPDATE, 0, 0, u32(rng.chance(0.5) ? 0 : 0x7fffffff)),
        ],
        100,
      );
    case 'settings-edge-values': {
      const edges: Array<[number, number]> = [
        [0x1, rng.chance(0.5) ? 0 : 0xffffffff], // HEADER_TABLE_SIZE
        [0x2, rng.int(0, 3 - 1)], // ENABLE_PUSH: 2 is an error
        [0x3, rng.chance(0.5) ? 0 : 0xffffffff], // MAX_CONCURRENT_STREAMS
        [0x4, rng.chance(0.5) ? 0x7fffffff : 0x80000000], // INITIAL_WINDOW_SIZE: 2^31 is an error
        [0x5, rng.chance(0.5) ? 16_383 : 16_777_216], // MAX_FRAME_SIZE: both out of range
        [0x6, rng.chance(0.5) ? 0 : 0xffffffff], // MAX_HEADER_LIST_SIZE
        [0x8, rng.int(0, 3 - 1)], // ENABLE_CONNECT_PROTOCOL
        [0xffff, rng.int(0, 1_000_000 - 1)], // unknown: ignored
      ];
      const chosen = edges.filter(() => rng.chance(0.5));
      return done([H2_PREFACE, settings(chosen.length > 0 ? chosen : edges), get(1)], 150);
    }
    case 'ping-flood': {
      const pings = Array.from({ length: 2_000 }, (_, i) => {
        const payload = Buffer.alloc(8);
        payload.writeUInt32BE(i);
        return h2Frame(PING, 0, 0, payload);
      });
      return done([...start, ...pings], 200);
    }
    case 'rapid-reset': {
      // HEADERS then RST_STREAM(CANCEL) on 500 streams (CVE-2023-44487).
      const frames: Buffer[] = [];
      for (let id = 1; id < 1_000; id += 2) {
        frames.push(get(id), h2Frame(RST_STREAM, 0, id, u32(0x8)));
      }
      return done([...start, ...frames], 200);
    }
    case 'continuation-flood': {
      // An endless header block (CVE-2024-27983 class): HEADERS without END_HEADERS, then
      // thousands of CONTINUATION frames, none ending it.
      const filler = Buffer.concat([Buffer.from([0x40, 1, 0x61, 100]), Buffer.alloc(100, 0x62)]);
      const frames = Array.from({ length: 3_000 }, () => h2Frame(CONTINUATION, 0, 1, filler));
      return done([...start, get(1, path, END_STREAM), ...frames], 200);
    }
    case 'priority-flood': {
      const frames = Array.from({ length: 3_000 }, (_, i) => {
        const payload = Buffer.alloc(5);
        payload.writeUInt32BE(((i * 2 + 3) >>> 0) & 0x7fffffff);
        payload[4] = rng.int(0, 256 - 1);
        return h2Frame(PRIORITY, 0, i * 2 + 1, payload);
      });
      return done([...start, ...frames, get(7_001)], 200);
    }
    case 'frames-after-connection-error':
      return done(
        [
          ...start,
          get(1, streamPath),
          h2Frame(DATA, 0, 0, Buffer.from('x')),
          get(3),
          h2Frame(PING, 0, 0, Buffer.alloc(8)),
          h2Frame(WINDOW_UPDATE, 0, 1, u32(1_000)),
          h2Frame(GOAWAY, 0, 0, Buffer.alloc(8)),
          get(5, streamPath),
        ],
        250,
      );
    case 'headers-without-end-headers-held':
      return done([...start, get(1, streamPath, END_STREAM)], undefined, false);
  }
}

/** A connection of the h2 phase, running or held open. */
export interface H2Connection {
  /** Resolves once the bytes were written (`true`), or the connection failed first (`false`). */
  opened: Promise<boolean>;
  /** Resolves after the hold (a held case: when closed), or when the connection failed. */
  done: Promise<void>;
  /** Whether the TCP connection was established. */
  connected: () => boolean;
  /** Whether the server closed it before we ended it (after connecting). */
  closedByServer: () => boolean;
  /** Ends it now. */
  destroy: () => void;
}

/**
 * A connection to 127.0.0.1:`port`: plain TCP (h2c), or with `secure` TLS offering only ALPN
 * `h2` (any certificate accepted: the peer is the service under test).
 */
function open(port: number, secure: boolean): { socket: Socket; connectEvent: string } {
  if (!secure) return { socket: connect({ host: '127.0.0.1', port }), connectEvent: 'connect' };
  const socket = tlsConnect({
    host: '127.0.0.1',
    port,
    ALPNProtocols: ['h2'],
    rejectUnauthorized: false,
  });
  return { socket, connectEvent: 'secureConnect' };
}

/** A TCP reset where the socket allows it (a TLS socket may not), else a plain close. */
function reset(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/** Runs one {@link H2Case} against 127.0.0.1:`port` (over TLS with `secure`). */
export function runH2Case(port: number, c: H2Case, secure = false): H2Connection {
  let byServer = false;
  let ended = false;
  let isConnected = false;
  let markOpened: (ok: boolean) => void = () => {};
  const opened = new Promise<boolean>((resolve) => {
    markOpened = resolve;
  });
  const { socket, connectEvent } = open(port, secure);
  const done = new Promise<void>((resolve) => {
    socket.once(connectEvent, () => {
      isConnected = true;
      socket.write(c.bytes, () => markOpened(true));
      if (c.holdMs === undefined) return;
      setTimeout(() => {
        ended = true;
        if (c.reset && !socket.destroyed) reset(socket);
        else socket.destroy();
        resolve();
      }, c.holdMs);
    });
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.once('close', () => {
      if (!ended && isConnected) byServer = true;
      markOpened(false);
      // A timed case keeps its pace (the next connection after the hold, as an attacker's
      // timer would) even when the server closed first; a held or failed one is done now.
      if (c.holdMs === undefined || !isConnected) resolve();
    });
  });
  return {
    opened,
    done,
    connected: () => isConnected,
    closedByServer: () => byServer,
    destroy: () => {
      ended = true;
      socket.destroy();
    },
  };
}

/**
 * What the port speaks to an h2 client (over TLS with `secure`, offering ALPN `h2`): `h2` if
 * it answers the preface with a SETTINGS frame (h2c on), `http/1.1` if with an HTTP/1.1
 * status line (h2c off), else `none`.
 */
export function spokenProtocol(
  port: number,
  secure = false,
  timeoutMs = 5_000,
): Promise<'h2' | 'http/1.1' | 'none'> {
  return new Promise((resolve) => {
    let seen: Buffer = Buffer.alloc(0);
    const { socket, connectEvent } = open(port, secure);
    const finish = (answer: 'h2' | 'http/1.1' | 'none'): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish('none'), timeoutMs);
    socket.once(connectEvent, () =>
      socket.write(Buffer.concat([H2_PREFACE, h2Frame(SETTINGS, 0, 0)])),
    );
    socket.on('data', (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      if (seen.subarray(0, 5).toString('latin1') === 'HTTP/') finish('http/1.1');
      else if (seen.length >= 9) finish(seen[3] === SETTINGS ? 'h2' : 'none');
    });
    socket.on('error', () => {});
    socket.once('close', () => finish('none'));
  });
}
