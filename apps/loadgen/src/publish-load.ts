import { wallClockMs } from './clock.js';
import { KeepAliveConnection, RequestFailure } from './http-connection.js';
import type { PublishCommand, PublishedReport } from './ipc.js';
import { compileRequests } from './request-template.js';

/**
 * Drives publishes on `concurrency` keep-alive connections for a duration:
 * each connection sends its next request as soon as the previous answer
 * arrives, or, with a rate, at its next slot (the connections' slots
 * interleaved evenly) if that is later: a connection that falls behind
 * sends at once but never more than its share over the run. Each request
 * carries a unique, increasing timestamp `{ts}` (seconds with microseconds)
 * and cycles through the environments.
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

  // Templates are compiled once per environment: a request is then a few concatenations and one Buffer.
  const requests = command.envs.map((env) => compileRequests(command, env));

  // Milliseconds between one connection's slots; 0 for unpaced.
  const slotMs =
    command.ratePerSecond > 0 ? (command.concurrency * 1000) / command.ratePerSecond : 0;
  const pacedFrom = performance.now();

  const lane = async (laneIndex: number): Promise<void> => {
    let connection: KeepAliveConnection | undefined;
    let connectionKey = '';
    let i = laneIndex;
    let sent = 0;
    while (performance.now() < deadline) {
      if (slotMs > 0) {
        const due = pacedFrom + (sent + laneIndex / command.concurrency) * slotMs;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (performance.now() >= deadline) break;
      }
      sent++;
      const request = requests[i++ % requests.length]!.build(nextTimestamp());
      if (connection === undefined || request.key !== connectionKey) {
        connection?.close();
        connection = new KeepAliveConnection(request.endpoint);
        connectionKey = request.key;
      }
      const bytes = request.bytes;
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
