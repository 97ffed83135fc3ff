import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { ConnectionOptions } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { NatsClusterTimeoutError } from './errors.js';
import { isHealthy } from './healthz.js';
import { getFreePorts } from './ports.js';
import { NatsServer, type NatsServerOptions } from './server.js';
import { pollUntil } from './wait.js';

/** Options of {@link startNatsCluster}. */
export interface NatsClusterOptions {
  /**
   * Number of nodes.
   * @defaultValue `3`
   */
  size?: number;
  /**
   * Cluster name.
   * @defaultValue a random unique name
   */
  name?: string;
  /** Configuration text appended to every node's configuration. */
  config?: string;
  /** Extra command-line arguments for every node. */
  args?: readonly string[];
  /**
   * How long to wait for all nodes to be up with a JetStream meta leader.
   * @defaultValue `20_000`
   */
  startTimeoutMs?: number;
  /** Options for the connections the cluster helpers open (credentials, TLS) besides `servers`. */
  connectOptions?: Omit<ConnectionOptions, 'servers'>;
}

/** A JetStream cluster of nats-server processes routed together on 127.0.0.1. */
export class NatsCluster implements AsyncDisposable {
  /** The nodes, in start order; each can be killed and restarted on its own. */
  readonly nodes: readonly NatsServer[];
  /** The cluster name. */
  readonly name: string;
  private readonly connectOptions: Omit<ConnectionOptions, 'servers'>;

  /** @internal use {@link startNatsCluster}. */
  constructor(
    name: string,
    nodes: NatsServer[],
    connectOptions: NatsClusterOptions['connectOptions'],
  ) {
    this.name = name;
    this.nodes = nodes;
    this.connectOptions = connectOptions ?? {};
  }

  /** Client URLs of all nodes (running or not), e.g. to pass as `servers`. */
  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /** The nodes whose process is alive. */
  get runningNodes(): NatsServer[] {
    return this.nodes.filter((node) => node.running);
  }

  /**
   * Resolves when every running node reports healthy and the JetStream API answers, i.e. a meta
   * leader is elected.
   * @param timeoutMs - @defaultValue `20_000`
   */
  async waitForLeader(timeoutMs = 20_000): Promise<void> {
    await pollUntil(
      async () => {
        const running = this.runningNodes;
        const health = await Promise.all(running.map((node) => isHealthy(node.monitorUrl)));
        if (running.length === 0 || health.includes(false)) return undefined;
        return this.withJetStream(async (jsm) => {
          await jsm.getAccountInfo();
          return true;
        });
      },
      {
        timeoutMs,
        intervalMs: 100,
        onTimeout: (cause) =>
          new NatsClusterTimeoutError(
            `cluster ${this.name}: no JetStream meta leader within ${timeoutMs} ms`,
            { cause },
          ),
      },
    );
  }

  /**
   * The running node that leads `stream` (its RAFT group leader). Waits, up to `timeoutMs`,
   * until the stream has a leader among the running nodes, so after killing the leader it
   * resolves with the newly elected one.
   * @param timeoutMs - @defaultValue `20_000`
   */
  streamLeader(stream: string, timeoutMs = 20_000): Promise<NatsServer> {
    return pollUntil(
      () =>
        this.withJetStream(async (jsm) => {
          const leader = (await jsm.streams.info(stream)).cluster?.leader;
          return this.runningNodes.find((node) => node.serverName === leader);
        }),
      {
        timeoutMs,
        intervalMs: 100,
        onTimeout: (cause) =>
          new NatsClusterTimeoutError(
            `cluster ${this.name}: stream ${stream} has no leader on a running node after ${timeoutMs} ms`,
            { cause },
          ),
      },
    );
  }

  /** Stops every node (see {@link NatsServer.stop}). */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
  }

  /** Same as {@link NatsCluster.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  private async withJetStream<T>(
    use: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>,
  ): Promise<T> {
    const nc = await connect({
      ...this.connectOptions,
      servers: this.runningNodes.map((node) => node.url),
      reconnect: false,
      timeout: 1_000,
    });
    try {
      return await use(await jetstreamManager(nc, { timeout: 1_000, checkAPI: false }));
    } finally {
      await nc.close();
    }
  }
}

/**
 * Starts `size` JetStream nodes routed into one cluster on 127.0.0.1 (each with its own store
 * directory and `server_name`), and resolves once all are up and a JetStream meta leader is
 * elected.
 *
 * @example
 * ```ts
 * await using cluster = await startNatsCluster({ size: 3 });
 * const nc = await connect({ servers: cluster.urls });
 * ```
 */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const name = options.name ?? `cluster-${randomBytes(4).toString('hex')}`;
  const timeoutMs = options.startTimeoutMs ?? 20_000;
  const routePorts = await getFreePorts(size);
  const nodes = routePorts.map((routePort, index) => {
    const routes = routePorts
      .filter((other) => other !== routePort)
      .map((other) => `nats-route://127.0.0.1:${other}`);
    const nodeOptions: NatsServerOptions = {
      serverName: `${name}-n${index + 1}`,
      startTimeoutMs: timeoutMs,
      args: options.args ?? [],
      config: [
        `cluster {\n  name: ${JSON.stringify(name)}\n  listen: "127.0.0.1:${routePort}"`,
        `  routes: [${routes.map((route) => JSON.stringify(route)).join(', ')}]\n}`,
        options.config ?? '',
      ].join('\n'),
    };
    return new NatsServer(nodeOptions);
  });
  const cluster = new NatsCluster(name, nodes, options.connectOptions);
  try {
    // Clustered JetStream is healthy only once peers see each other: start all together.
    await Promise.all(nodes.map((node) => node.start()));
    await cluster.waitForLeader(timeoutMs);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
