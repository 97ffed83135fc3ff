import {
  type IncomingMessage,
  type ServerOptions,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import { MAX_PUBLISH_BODY_BYTES } from '@flagsmith-rt/protocol';
import { HttpError } from '../errors.js';
import { CORS_ALLOW_ORIGIN } from './cors.js';

/** Limits on what a client may send before its request is answered. */
export interface HttpLimits {
  /**
   * Most bytes of a request head (request line and headers); beyond it the
   * answer is `431`.
   * @defaultValue 16384
   */
  maxHeaderBytes: number;
  /**
   * Most time to receive a whole request (head and body), so a slowloris
   * client cannot hold a connection by trickling bytes; beyond it the answer
   * is `408` and the connection closes. It ends with the request: a stream's
   * response may last for hours.
   * @defaultValue 10000
   */
  requestTimeoutMs: number;
}

/** Default {@link HttpLimits}. */
export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  maxHeaderBytes: 16 * 1024,
  requestTimeoutMs: 10_000,
});

/** How often Node checks requests against the timeouts; at most a quarter of the timeout. */
function checkingIntervalFor(requestTimeoutMs: number): number {
  return Math.max(10, Math.min(1_000, Math.floor(requestTimeoutMs / 4)));
}

/**
 * Options for `http.createServer` (or Fastify's `http` option) enforcing
 * {@link HttpLimits}. Node applies `requestTimeout` and `headersTimeout`
 * only until the request is fully received, never to the response.
 */
export function httpServerOptions(limits: HttpLimits): ServerOptions {
  return {
    maxHeaderSize: limits.maxHeaderBytes,
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: checkingIntervalFor(limits.requestTimeoutMs),
    // Node would answer a missing Host with its own bare 400; the plugin answers it in
    // the JSON error shape instead (found by the fuzz).
    requireHostHeader: false,
  };
}

/**
 * Fastify server options enforcing {@link HttpLimits}, to spread into
 * `Fastify({...})`: the Node server limits, a body limit (only `queue-change`
 * takes a body, at most 1 KiB), and {@link clientErrorHandler}.
 */
export function fastifyLimitOptions(limits: HttpLimits = DEFAULT_HTTP_LIMITS) {
  const http = httpServerOptions(limits);
  return {
    http,
    // Fastify sets the server's requestTimeout from its own option, over `http`'s.
    requestTimeout: limits.requestTimeoutMs,
    bodyLimit: MAX_PUBLISH_BODY_BYTES,
    clientErrorHandler,
  };
}

/**
 * For Fastify's `clientErrorHandler` (Node's `clientError`): requests Node
 * rejects before any route sees them get the service's JSON error shape
 * (`431` head too large, `408` too slow, `400` unparsable), then the
 * connection closes. Nothing is written to a reset or unwritable socket.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // A request read in full before the broken bytes is still being answered (a publish
  // awaiting its JetStream ack): its answer is the one the client waits for. Close the
  // connection once it is sent instead of replacing it with a 400.
  const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (pending && !pending.writableFinished && pending.req.complete) {
    if (!pending.headersSent) pending.shouldKeepAlive = false;
    if (!closingAfterResponse.has(socket)) {
      closingAfterResponse.add(socket);
      pending.once('finish', () => socket.destroySoon());
    }
    return;
  }
  const httpError =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new HttpError(
          431,
          'headers_too_large',
          'The request head is too large; send fewer or shorter headers.',
        )
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new HttpError(408, 'request_timeout', 'The request was not received in time.')
        : new HttpError(400, 'bad_request', 'The request is malformed.');
  if (socket.writable) {
    const body = JSON.stringify(httpError.toBody());
    socket.write(
      `HTTP/1.1 ${httpError.statusCode} ${STATUS_CODES[httpError.statusCode]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `Access-Control-Allow-Origin: ${CORS_ALLOW_ORIGIN}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy();
}

/** Sockets whose pending response closes them (parse errors repeat for every later chunk). */
const closingAfterResponse = new WeakSet<Socket>();

/**
 * For a server's `checkExpectation` event (HTTP/1.1 and HTTP/2): an `Expect` other than
 * `100-continue` gets `417` in the JSON error shape with CORS, where Node would send a bare
 * `417`. The HTTP/1.1 connection closes after it, since the body was never read.
 */
export function expectationFailedHandler(
  request: IncomingMessage | Http2ServerRequest,
  response: ServerResponse | Http2ServerResponse,
): void {
  request.resume();
  const error = new HttpError(
    417,
    'expectation_failed',
    'Only "Expect: 100-continue" is supported; remove the Expect header.',
  );
  const body = JSON.stringify(error.toBody());
  if ('shouldKeepAlive' in response) response.shouldKeepAlive = false;
  response.writeHead(417, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'access-control-allow-origin': CORS_ALLOW_ORIGIN,
  });
  response.end(body);
}
