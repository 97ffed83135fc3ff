import { connect, type Socket } from 'node:net';

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * One keep-alive connection sending requests one after another, timing each answer with
 * `process.hrtime` (for the token timing check, where a new connection per request would
 * drown the signal in noise).
 */
export class KeepAliveConnection {
  private socket: Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private pending: ((result: { status: number; ns: bigint }) => void) | undefined;
  private startedAt = 0n;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** Sends `bytes` and resolves with the status and the nanoseconds to the complete answer. */
  async send(bytes: Buffer): Promise<{ status: number; ns: bigint }> {
    const socket = await this.connected();
    return new Promise((resolveSend) => {
      this.pending = resolveSend;
      this.buffer = Buffer.alloc(0);
      this.startedAt = process.hrtime.bigint();
      socket.write(bytes);
    });
  }

  /** Closes the connection. */
  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connected(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolveSocket, reject) => {
      const socket = connect({ host: this.host, port: this.port });
      socket.setNoDelay(true);
      socket.once('connect', () => resolveSocket(socket));
      socket.once('error', reject);
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('close', () => {
        if (this.socket === socket) this.socket = undefined;
        this.pending?.({ status: 0, ns: process.hrtime.bigint() - this.startedAt });
        this.pending = undefined;
      });
      this.socket = socket;
    });
  }

  private onData(chunk: Buffer): void {
    const at = process.hrtime.bigint();
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = this.buffer.indexOf(HEAD_END);
    if (end < 0 || !this.pending) return;
    const head = this.buffer.subarray(0, end).toString('latin1').toLowerCase();
    const length = /content-length:\s*(\d+)/.exec(head);
    if (length && this.buffer.length - end - 4 < Number(length[1])) return;
    const resolveSend = this.pending;
    this.pending = undefined;
    resolveSend({ status: Number(head.slice(9, 12)) || 0, ns: at - this.startedAt });
  }
}
