import type { ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** What the server writes a stream's bytes to: an HTTP/1 socket or an HTTP/2 stream. */
export type ServerSide = Socket | ServerHttp2Stream;

/**
 * Collects the server's side of every connection (HTTP/1) or stream (HTTP/2)
 * from now on, so a test can see what the service's sockets hold: a socket
 * that refused a write (`writableNeedDrain`) and its queued bytes.
 */
export function serverSides(app: FastifyInstance): { all: ServerSide[]; blocked(): ServerSide[] } {
  const all: ServerSide[] = [];
  app.server.on('connection', (socket: Socket) => all.push(socket));
  app.server.on('stream', (stream: ServerHttp2Stream) => all.push(stream));
  return { all, blocked: () => all.filter((side) => side.writableNeedDrain && !side.destroyed) };
}
