import { connect, type Socket } from 'node:net';

/** What came back for one raw request. */
export interface RawResponse {
  /** HTTP status; 0 when the connection ended (or timed out) before a status line. */
  status: number;
  /** The response was an event stream (cut by us after the head). */
  stream: boolean;
  /** How it ended without a status: `closed`, `reset`, `timeout`. */
  failure?: string;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Sends raw request bytes on a fresh connection and reads the status and enough of the answer
 * to know it is complete. One connection per request keeps a malformed request from confusing
 * the next one.
 */
export function sendRaw(
  host: string,
  port: number,
  bytes: Buffer,
  timeoutMs: number,
  localAddress?: string,
): Promise<RawResponse> {
  const headOnly = bytes.subarray(0, 5).toString('latin1') === 'HEAD ';
  return new Promise((resolveResponse) => {
    let settled = false;
    let status = 0;
    let received: Buffer = Buffer.alloc(0);
    const socket: Socket = connect({ host, port, ...(localAddress ? { localAddress } : {}) });
    const done = (response: RawResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolveResponse(response);
    };
    const timer = setTimeout(() => done({ status, stream: false, failure: 'timeout' }), timeoutMs);
    socket.on('connect', () => {
      // A write error (the server answered early and closed) is fine: the status may be in.
      socket.write(bytes, () => {});
    });
    socket.on('data', (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      let end = received.indexOf(HEAD_END);
      if (end < 0) return;
      let head = received.subarray(0, end).toString('latin1');
      status = Number(head.slice(9, 12)) || 0;
      // Skip interim answers (100 Continue): the final one follows.
      while (status >= 100 && status < 200) {
        received = received.subarray(end + 4);
        end = received.indexOf(HEAD_END);
        status = 0;
        if (end < 0) return;
        head = received.subarray(0, end).toString('latin1');
        status = Number(head.slice(9, 12)) || 0;
      }
      const lower = head.toLowerCase();
      // A HEAD answer, a 204 and a 304 have no body whatever their headers say.
      if (headOnly || status === 204 || status === 304) {
        done({ status, stream: false });
        return;
      }
      if (lower.includes('content-type: text/event-stream')) {
        done({ status, stream: true });
        return;
      }
      const length = /content-length:\s*(\d+)/.exec(lower);
      const bodyBytes = received.length - end - 4;
      if (length && bodyBytes >= Number(length[1])) done({ status, stream: false });
      else if (!length && !lower.includes('transfer-encoding: chunked')) {
        done({ status, stream: false });
      } else if (
        lower.includes('transfer-encoding: chunked') &&
        received.includes('\r\n0\r\n\r\n')
      ) {
        done({ status, stream: false });
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      done({ status, stream: false, failure: status ? undefined : (error.code ?? 'error') });
    });
    socket.on('close', () =>
      done({ status, stream: false, ...(status ? {} : { failure: 'closed' }) }),
    );
  });
}
