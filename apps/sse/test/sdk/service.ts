import { inject } from 'vitest';
import { mainRunner, type Running } from '../helpers/process.js';
import { waitFor } from '../helpers/sse-client.js';

/** The publish token the services started here use. */
export const SDK_TEST_TOKEN = 'sdk-test-token';

const { run, stopAll } = mainRunner(inject('mainPath'));

/** Stops every service started by {@link startService}; call it from `afterEach`. */
export const stopServices = stopAll;

/** A running `apps/sse` process (the built entry point). */
export interface Service {
  readonly running: Running;
  /** `http://127.0.0.1:PORT` without a trailing slash. */
  readonly url: string;
  readonly port: number;
  /** POSTs `queue-change` for `environment` and resolves with the status. */
  publish(environment: string, updatedAt: number): Promise<number>;
  /** The value of one sample of `/metricsz`, e.g. `flagsmith_sse_subscribers`. */
  metric(sample: string): Promise<number>;
}

/** Starts the built service with `env` (PORT defaults to 0) and waits for its listening line. */
export async function startService(env: Record<string, string> = {}): Promise<Service> {
  const running = run({ PORT: '0', SSE_AUTHENTICATION_TOKEN: SDK_TEST_TOKEN, ...env });
  const line = await waitFor(
    () =>
      running
        .stdout()
        .split('\n')
        .find((l) => l.includes('"msg":"listening"')),
    `the listening line; stdout ${running.stdout()} stderr ${running.stderr()}`,
    15_000,
  );
  const url = (JSON.parse(line) as { url: string }).url;
  return {
    running,
    url,
    port: Number(new URL(url).port),
    async publish(environment, updatedAt) {
      const res = await fetch(`${url}/sse/environments/${environment}/queue-change`, {
        method: 'POST',
        headers: { authorization: `Token ${SDK_TEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ updated_at: updatedAt }),
      });
      await res.arrayBuffer();
      return res.status;
    },
    async metric(sample) {
      const text = await (await fetch(`${url}/metricsz`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
      if (line === undefined) throw new Error(`no sample ${sample} in /metricsz`);
      return Number(line.slice(sample.length + 1));
    },
  };
}
