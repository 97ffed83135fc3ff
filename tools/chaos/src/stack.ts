import { randomBytes } from 'node:crypto';
import {
  type NatsCluster,
  type NatsServer,
  startNatsCluster,
  startNatsServer,
} from '@flagsmith-rt/nats-launcher';
import type { ConnectionOptions } from '@nats-io/nats-core';
import { type Crash, SseInstance } from './sse-instance.js';

/** Options of {@link Stack.start}. */
export interface StackOptions {
  /** NATS topology: one node (stream R1) or a 3-node cluster (stream R3). */
  nats: 'single' | 'cluster';
  /** Number of `apps/sse` instances. */
  instances: number;
  /** Extra service environment (timeouts, credentials). */
  serviceEnv?: Record<string, string>;
  /**
   * `SSE_WORKERS` of each instance. Two instances of the default (one worker per CPU) would
   * put six Node processes on this 2-core box, so multi-instance scenarios run one each.
   * @defaultValue 1 with several instances, else the service's default
   */
  workers?: number;
  /** Extra nats-server configuration (authorization, TLS). */
  natsConfig?: string;
  /** Connection options for the harness's own NATS connections (credentials, TLS). */
  connectOptions?: Omit<ConnectionOptions, 'servers'>;
  /** Rewrites the URLs given to the service (e.g. `tls://`). */
  serviceUrls?: (urls: string[]) => string[];
}

function workersEnv(options: StackOptions): Record<string, string> {
  const workers = options.workers ?? (options.instances > 1 ? 1 : undefined);
  return workers === undefined ? {} : { SSE_WORKERS: String(workers) };
}

/**
 * NATS and the service instances of one scenario, plus the bookkeeping that tells an injected
 * fault from a crash: every process the scenario did not kill itself must still be alive.
 */
export class Stack {
  /** The publish token. */
  readonly token = randomBytes(24).toString('base64url');
  /** Service instances. */
  readonly instances: SseInstance[] = [];
  /** NATS nodes. */
  readonly nodes: NatsServer[] = [];
  /** The cluster, when there is one. */
  cluster: NatsCluster | undefined;
  private readonly stoppedOnPurpose = new Set<NatsServer>();

  /** Starts NATS, then every instance, and waits until all are ready. */
  static async start(options: StackOptions): Promise<Stack> {
    const stack = new Stack();
    try {
      if (options.nats === 'cluster') {
        stack.cluster = await startNatsCluster({
          size: 3,
          ...(options.natsConfig ? { config: options.natsConfig } : {}),
          ...(options.connectOptions ? { connectOptions: options.connectOptions } : {}),
        });
        stack.nodes.push(...stack.cluster.nodes);
      } else {
        stack.nodes.push(
          await startNatsServer(options.natsConfig ? { config: options.natsConfig } : {}),
        );
      }
      const urls = stack.nodes.map((node) => node.url);
      const serviceUrls = options.serviceUrls ? options.serviceUrls(urls) : urls;
      for (let i = 0; i < options.instances; i++) {
        stack.instances.push(
          new SseInstance({
            name: `sse-${i + 1}`,
            token: stack.token,
            natsUrls: serviceUrls,
            env: {
              STREAM_REPLICAS: options.nats === 'cluster' ? '3' : '1',
              ...workersEnv(options),
              ...options.serviceEnv,
            },
          }),
        );
      }
      await Promise.all(stack.instances.map((instance) => instance.start()));
      await Promise.all(stack.instances.map((instance) => instance.waitReady()));
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  /** Base URLs of the instances that run. */
  get liveUrls(): string[] {
    return this.instances.filter((i) => i.running).map((i) => i.url);
  }

  /** SIGKILLs (or signals) a NATS node on purpose. */
  async killNode(node: NatsServer, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.stoppedOnPurpose.add(node);
    await node.kill(signal);
  }

  /** Restarts a node killed on purpose (same port and store). */
  async restartNode(node: NatsServer): Promise<void> {
    await node.restart();
    this.stoppedOnPurpose.delete(node);
  }

  /** Restarts several nodes together (a cluster only turns healthy once peers see each other). */
  async restartNodes(nodes: readonly NatsServer[]): Promise<void> {
    await Promise.all(nodes.map((node) => this.restartNode(node)));
  }

  /** Service exits nobody asked for, and NATS nodes that died on their own. */
  crashes(): Crash[] {
    const crashes = this.instances.flatMap((i) => i.crashes);
    for (const node of this.nodes) {
      if (!node.running && !this.stoppedOnPurpose.has(node)) {
        crashes.push({ name: node.serverName, code: null, signal: null, tail: node.logs() });
      }
    }
    return crashes;
  }

  /** Stops everything. */
  async stop(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.dispose()));
    if (this.cluster) await this.cluster.stop();
    else await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
