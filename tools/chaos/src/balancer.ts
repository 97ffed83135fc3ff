import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Target } from './subscribers.js';

/**
 * A minimal TCP load balancer: each connection goes to the next backend in turn, and to the
 * one after if that refuses. What a real deployment puts in front of the instances.
 */
export class TcpBalancer {
  /** Port it listens on (127.0.0.1). */
  port = 0;
  private readonly server: Server;
  private next = 0;
  private readonly open = new Set<Socket>();

  constructor(private readonly backends: () => Target[]) {
    this.server = createServer((client) => this.route(client, 0));
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts listening on a free port. */
  listen(): Promise<this> {
    return new Promise((resolveListen) => {
      this.server.listen(0, '127.0.0.1', () => {
        const address = this.server.address();
        this.port = typeof address === 'object' && address ? address.port : 0;
        resolveListen(this);
      });
    });
  }

  /** Closes every connection and the listener. */
  close(): Promise<void> {
    for (const socket of this.open) socket.destroy();
    return new Promise((resolveClose) => this.server.close(() => resolveClose()));
  }

  private route(client: Socket, tried: number): void {
    const backends = this.backends();
    if (tried >= backends.length) {
      client.destroy();
      return;
    }
    const target = backends[this.next++ % backends.length]!;
    const upstream = connect({ host: target.host, port: target.port });
    this.open.add(client);
    this.open.add(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', () => {
      if (!connected) this.route(client, tried + 1);
    });
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => {
      this.open.delete(upstream);
      if (connected) client.destroy();
    });
    client.on('close', () => {
      this.open.delete(client);
      upstream.destroy();
    });
  }
}
