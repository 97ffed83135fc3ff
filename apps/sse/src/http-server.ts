import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type Http2Session, type Settings } from 'node:http2';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { expectationFailedHandler } from '@flagsmith-rt/server';
import type { ServerTlsConfig } from './config.js';
import type { StreamFastPath } from './stream-fast-path.js';

/** The request handler Fastify passes to a `serverFactory`. */
export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** What Fastify calls on close: ends HTTP/2 sessions with GOAWAY once streams were drained. */
export interface ClosesHttp2Sessions {
  /** Sends GOAWAY on every open HTTP/2 session; each closes once its streams are done. */
  closeHttp2Sessions(): void;
}

/** The cleartext server's hook for plain stream requests (see `stream-fast-path.ts`). */
export interface ServesStreamsDirectly {
  /** From now on, new cleartext connections whose first bytes `fastPath` serves skip node:http. */
  serveStreamsDirectly(fastPath: StreamFastPath): void;
}

/** The HTTP/2 connection preface every h2 client sends first (RFC 9113 §3.4). */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * HTTP/2 settings of every session. Browsers open all of a page's streams
 * on one connection; each costs a subscriber slot like an HTTP/1.1 socket.
 */
export const H2_SETTINGS: Settings = Object.freeze({ maxConcurrentStreams: 1000 });

/** Idle sessions (no stream, no frames) are closed after this long, as Fastify does. */
const SESSION_IDLE_TIMEOUT_MS = 72_000;
/** HTTP/1.1 keep-alive between requests, Fastify's default. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;
/** Without a request timeout: a connection silent this long before its protocol is known is closed. */
const FIRST_BYTES_TIMEOUT_MS = 30_000;

/** What {@link serverFactoryFor} serves, besides the Fastify handler. */
export interface ServerFactoryOptions {
  /** HTTPS (ALPN `h2` and `http/1.1`); `undefined` serves cleartext. */
  tls: ServerTlsConfig | undefined;
  /** Without TLS: serve h2c (prior knowledge) next to HTTP/1.1; `false` serves HTTP/1.1 only. */
  h2c: boolean;
  /**
   * The streams' keep-alive interval. Every HTTP/2 session is pinged about four times in it;
   * one that has not answered within half of it is destroyed, with its streams.
   */
  keepAliveIntervalMs: number;
}

/**
 * A Fastify `serverFactory` serving HTTP/1.1 and HTTP/2 on one port. With
 * TLS: an HTTPS server negotiating `h2` or `http/1.1` by ALPN. Without: a TCP
 * server that reads the first bytes of each connection and hands it to an
 * HTTP/2 server if they are the h2 preface (prior knowledge, h2c, when
 * enabled), else to an HTTP/1.1 server, both running the same Fastify
 * handler. HTTP/1.1 streams keep their raw socket, so the hot path is unchanged.
 */
export function serverFactoryFor(options: ServerFactoryOptions) {
  return (
    handler: RequestHandler,
    fastifyOptions?: { http?: http.ServerOptions },
  ): net.Server & ClosesHttp2Sessions => {
    // Request limits (head size, request and headers timeouts) from Fastify's `http` option.
    const limits = fastifyOptions?.http ?? {};
    const served = closingAfterUpgrade(handler);
    return options.tls === undefined
      ? cleartextServer(served, limits, options)
      : secureServer(served, options.tls, limits, options);
  };
}

/**
 * The service upgrades nothing, so Node serves an `Upgrade` request as a plain one; but its
 * parser then stops reading the connection (it waits for the other protocol), and whatever
 * the client sends next would sit unanswered until the request timeout. Such a connection
 * closes after its response instead (found by the fuzz).
 */
function closingAfterUpgrade(handler: RequestHandler): RequestHandler {
  return (request, response) => {
    if (request.headers.upgrade !== undefined && request.httpVersionMajor === 1) {
      response.shouldKeepAlive = false;
    }
    handler(request, response);
  };
}

/** HTTP/2 settings with the head size limit applied to header lists. */
function h2SettingsFor(limits: http.ServerOptions): Settings {
  return limits.maxHeaderSize === undefined
    ? H2_SETTINGS
    : { ...H2_SETTINGS, maxHeaderListSize: limits.maxHeaderSize };
}

function secureServer(
  handler: RequestHandler,
  tls: ServerTlsConfig,
  limits: http.ServerOptions,
  options: ServerFactoryOptions,
) {
  const server = http2.createSecureServer(
    { cert: tls.cert, key: tls.key, allowHTTP1: true, settings: h2SettingsFor(limits) },
    handler as unknown as Parameters<typeof http2.createSecureServer>[1],
  );
  // HTTP/1.1 over this server (allowHTTP1) reads the same properties as an http.Server.
  const {
    maxHeaderSize,
    requestTimeout,
    headersTimeout,
    connectionsCheckingInterval,
    requireHostHeader,
  } = limits;
  Object.assign(server, {
    maxHeaderSize,
    requestTimeout,
    headersTimeout,
    connectionsCheckingInterval,
    requireHostHeader,
  });
  server.on('checkExpectation', expectationFailedHandler);
  const sessions = trackSessions(server, options.keepAliveIntervalMs);
  server.on('close', sessions.stop);
  return Object.assign(server, { closeHttp2Sessions: sessions.closeAll });
}

function cleartextServer(
  handler: RequestHandler,
  limits: http.ServerOptions,
  options: ServerFactoryOptions,
) {
  const h1 = http.createServer(limits, handler);
  h1.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  h1.on('checkExpectation', expectationFailedHandler);
  // h1 never listens itself: 'listening' starts its connection tracking (headers
  // timeout, idle-connection closing), which close() below stops again.
  h1.emit('listening');
  const h2 = http2.createServer(
    { settings: h2SettingsFor(limits) },
    handler as unknown as Parameters<typeof http2.createServer>[1],
  );
  h2.on('checkExpectation', expectationFailedHandler);
  const sessions = trackSessions(h2, options.keepAliveIntervalMs);

  // Until its protocol is known a connection gets no more time than a whole request would.
  const firstBytes = new FirstBytesDeadlines(limits.requestTimeout || FIRST_BYTES_TIMEOUT_MS);
  let fastPath: StreamFastPath | undefined;
  /** Hands a connection whose first bytes were read (and are put back) to the HTTP/1.1 server. */
  const toHttp1 = (socket: Socket, seen: Buffer) => {
    socket.pause();
    socket.unshift(seen);
    h1.emit('connection', socket);
    // The HTTP/1 parser takes over the socket's handle; the peeked bytes wait in
    // the socket's buffer and reach it as a 'data' event once the socket flows.
    socket.resume();
  };
  // node:http's default (`noDelay`), which this server accepts for: without it an update
  // written while the previous write is unacknowledged waits for the client's delayed ACK.
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', destroySelf);
    if (!options.h2c) {
      // HTTP/1.1 only: an h2 preface is an unparsable request line (400 in the JSON shape).
      // The HTTP/1.1 server's headers timeout covers a connection that never sends a byte.
      if (fastPath === undefined) {
        h1.emit('connection', socket);
        return;
      }
      const serve = fastPath;
      firstBytes.add(socket);
      socket.once('data', (chunk: Buffer) => {
        firstBytes.delete(socket);
        if (!serve(socket, chunk)) toHttp1(socket, chunk);
      });
      return;
    }
    firstBytes.add(socket);
    sniffPreface(socket, (isH2, seen) => {
      firstBytes.delete(socket);
      if (isH2) {
        // The h2 session reads the bytes already buffered on the socket itself.
        socket.pause();
        socket.unshift(seen);
        h2.emit('connection', socket);
      } else if (fastPath === undefined || !fastPath(socket, seen)) {
        toHttp1(socket, seen);
      }
    });
  });
  // Fastify listens for client errors on the server it was given.
  h1.on('clientError', (error, socket) => server.emit('clientError', error, socket));
  h1.on('connect', refuseConnect);
  server.on('close', () => {
    h1.close();
    sessions.stop();
    firstBytes.stop();
  });
  return Object.assign(server, {
    closeHttp2Sessions: sessions.closeAll,
    /** Closes HTTP/1.1 connections idle between requests (Fastify's `forceCloseConnections: 'idle'`). */
    closeIdleConnections: () => h1.closeIdleConnections(),
    serveStreamsDirectly: (serve: StreamFastPath) => {
      fastPath = serve;
    },
  });
}

/**
 * `CONNECT` asks for a proxy tunnel, which this service is not. Node closes such a request's
 * connection without a word when nobody listens for it; answer `400` in the JSON error shape
 * instead, like any other request the service does not serve (found by the chaos fuzz).
 */
export function refuseConnect(_request: IncomingMessage, socket: Duplex): void {
  const body = JSON.stringify({
    error: { code: 'bad_request', message: 'CONNECT is not supported: this is not a proxy.' },
  });
  socket.end(
    'HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nAccess-Control-Allow-Origin: *\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/** An `'error'` listener shared by every socket (no closure per connection). */
function destroySelf(this: Socket): void {
  this.destroy();
}

/** The preface's first byte: a request line starting with anything else is HTTP/1.1. */
const PREFACE_FIRST_BYTE = H2_PREFACE[0];

/**
 * Reads until the bytes received either are the whole h2 preface or differ
 * from it, then stops listening and calls `route` with them, in the `data`
 * event that decided (to put back with `unshift` for whoever reads the
 * connection next). The socket is left flowing: `route` pauses it when
 * another reader takes over, and a stream served directly goes on reading
 * and dropping what the client sends without a pause and a resume.
 */
export function sniffPreface(socket: Socket, route: (isH2: boolean, seen: Buffer) => void): void {
  let seen: Buffer | undefined;
  const onData = (chunk: Buffer) => {
    seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    // Most connections are `GET …`: decided by the first byte, without comparing slices.
    const matches =
      seen[0] === PREFACE_FIRST_BYTE && seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (matches && n < H2_PREFACE.length) return;
    socket.removeListener('data', onData);
    route(matches, seen);
  };
  socket.on('data', onData);
}

/**
 * Connections whose first bytes have not decided their protocol yet, each closed once it is
 * `timeoutMs` old. One timer checks them all, a few times per timeout: a timer per socket,
 * set on accept and cleared a moment later when its first bytes arrive, was about 4 % of the
 * CPU of accepting a stream (Node 24 profile, 19,000 connections at once).
 */
class FirstBytesDeadlines {
  private readonly accepted = new Map<Socket, number>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly timeoutMs: number) {}

  add(socket: Socket): void {
    this.accepted.set(socket, Date.now());
    if (this.timer === undefined && !this.stopped) {
      const tickMs = Math.max(MIN_FIRST_BYTES_TICK_MS, Math.min(1000, this.timeoutMs / 4));
      this.timer = setInterval(() => this.sweep(), tickMs);
      this.timer.unref();
    }
  }

  delete(socket: Socket): void {
    this.accepted.delete(socket);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    this.accepted.clear();
  }

  private sweep(): void {
    const oldest = Date.now() - this.timeoutMs;
    for (const [socket, acceptedAt] of this.accepted) {
      if (socket.destroyed) {
        this.accepted.delete(socket);
      } else if (acceptedAt <= oldest) {
        this.accepted.delete(socket);
        socket.destroy();
      }
    }
    if (this.accepted.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/** Shortest pause between two first-bytes checks, so a tiny REQUEST_TIMEOUT cannot spin. */
const MIN_FIRST_BYTES_TICK_MS = 10;

/** The sessions of an HTTP/2 server, as {@link trackSessions} keeps them. */
interface TrackedSessions {
  /** Sends GOAWAY on every open session; each closes once its streams are done. */
  closeAll(): void;
  /** Stops the liveness pings. */
  stop(): void;
}

/** Shortest pause between two liveness rounds, so a tiny test interval cannot spin. */
const MIN_LIVENESS_TICK_MS = 10;
/** Least time a session gets to answer a ping, whatever the keep-alive interval. */
const MIN_PING_DEADLINE_MS = 1_000;

/** What {@link trackSessions} knows of one session. */
interface SessionState {
  /** Open streams (only sessions with streams are pinged: idle ones have their own timeout). */
  streams: number;
  /** When the outstanding ping was sent, epoch ms; 0 for none. */
  pingSentAt: number;
}

/**
 * Tracks the sessions of an HTTP/2 server and checks that each one with streams is alive.
 * Every quarter of `keepAliveIntervalMs` one timer pings each such session that has no ping
 * outstanding, and destroys each whose ping went unanswered for half of it (at least 1 s).
 * A session whose transport died without telling Node (Node 20 wedges a session on some
 * connection errors: it stops reading, never emits `close` or `error`, and keeps the
 * socket's descriptor) would otherwise keep its streams in the hub forever. Destroying it
 * closes its streams, which leave the hub, and frees the descriptor.
 */
function trackSessions(
  server: http2.Http2Server | http2.Http2SecureServer,
  keepAliveIntervalMs: number,
): TrackedSessions {
  const sessions = new Map<Http2Session, SessionState>();
  server.on('session', (session: Http2Session) => {
    sessions.set(session, { streams: 0, pingSentAt: 0 });
    session.once('close', () => sessions.delete(session));
    session.on('error', () => session.destroy());
    session.setTimeout(SESSION_IDLE_TIMEOUT_MS, () => session.close());
  });
  server.on('stream', (stream: http2.ServerHttp2Stream) => {
    const state = sessions.get(stream.session as Http2Session);
    if (state === undefined) return;
    state.streams++;
    stream.once('close', () => {
      state.streams--;
    });
  });
  const deadlineMs = Math.max(MIN_PING_DEADLINE_MS, keepAliveIntervalMs / 2);
  const timer = setInterval(
    () => {
      const now = Date.now();
      for (const [session, state] of sessions) {
        if (session.destroyed) {
          sessions.delete(session);
        } else if (state.pingSentAt !== 0) {
          if (now - state.pingSentAt < deadlineMs) continue;
          sessions.delete(session);
          session.destroy();
        } else if (state.streams > 0 && ping(session, state)) {
          state.pingSentAt = now;
        }
      }
    },
    Math.max(MIN_LIVENESS_TICK_MS, Math.floor(keepAliveIntervalMs / 4)),
  );
  timer.unref();
  return {
    closeAll: () => {
      for (const session of sessions.keys()) session.close();
    },
    stop: () => clearInterval(timer),
  };
}

/** Sends one PING whose answer clears `state.pingSentAt`; `false` if it could not be sent. */
function ping(session: Http2Session, state: SessionState): boolean {
  try {
    return session.ping((error) => {
      if (error === null) state.pingSentAt = 0;
    });
  } catch {
    // A session already closing: its own close or the next round decides.
    return false;
  }
}
