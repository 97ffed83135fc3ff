import { wallClockMs } from './clock.js';
import { KeepAliveConnection, RequestFailure, requestBytes } from './http-connection.js';
import type { PublishCommand, PublishedReport } from './ipc.js';
import { type Endpoint, parseEndpoint, renderTemplate } from './target.js';

/**
 * Drives publishes on `concurrency` keep-alive connections for a duration:
 * each connection sends its next request as soon as the previous answer
 * arrives. Each request carries a unique, increasing timestamp `{ts}`
 * (seconds with microseconds) and cycles through the environments.
 */
export async function runPublishLoad(command: PublishCommand): Promise<PublishedReport> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const startedAt = wallClockMs();
  const cpuBefore = process.cpuUsage();
  const deadline = performance.now() + command.durationMs;
  let sequence = 0;
  const nextTimestamp = () => {
    const n = sequence++ * command.workers + command.index;
    return ((startedAt * 1000 + n) / 1e6).toFixed(6);
  };

  // Parsing a URL per request costs more than the request itself at 20k/s: cache per environment.
  const perEnv = new Map<string, Endpoint>();
  const urlHasTs = command.urlTemplate.includes('{ts}');
  const endpointOf = (env: string, ts: string): Endpoint => {
    if (urlHasTs) return parseEndpoint(renderTemplate(command.urlTemplate, { env, ts }));
    let endpoint = perEnv.get(env);
    if (endpoint === undefined) {
      endpoint = parseEndpoint(renderTemplate(command.urlTemplate, { env }));
      perEnv.set(env, endpoint);
    }
    return endpoint;
  };

  const lane = async (laneIndex: number): Promise<void> => {
    let connection: KeepAliveConnection | undefined;
    let connectionKey = '';
    let i = laneIndex;
    while (performance.now() < deadline) {
      const env = command.envs[i++ % command.envs.length]!;
      const ts = nextTimestamp();
      const endpoint = endpointOf(env, ts);
      const key = `${endpoint.host}:${endpoint.port}`;
      if (connection === undefined || key !== connectionKey) {
        connection?.close();
        connection = new KeepAliveConnection(endpoint);
        connectionKey = key;
      }
      const body = renderTemplate(command.bodyTemplate, { env, ts });
      const bytes = requestBytes(command.method, endpoint, command.headers, body);
      const start = performance.now();
      try {
        const outcome = await connection.request(bytes);
        latencies.push(performance.now() - start);
        statuses[outcome.status] = (statuses[outcome.status] ?? 0) + 1;
      } catch (error) {
        const cause = error instanceof RequestFailure ? error.reason : String(error);
        errors[cause] = (errors[cause] ?? 0) + 1;
        // Do not spin on a refused connection.
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    connection?.close();
  };

  const lanes: Promise<void>[] = [];
  for (let c = 0; c < command.concurrency; c++) lanes.push(lane(c));
  await Promise.all(lanes);
  return {
    type: 'published',
    latencies: Float64Array.from(latencies),
    statuses,
    errors,
    startedAt,
    endedAt: wallClockMs(),
    cpuMs: (() => {
      const cpu = process.cpuUsage(cpuBefore);
      return (cpu.user + cpu.system) / 1000;
    })(),
  };
}
