// Runs inside the client's runtime (Node, or bundled into a Chromium page): no Node imports.
import type { BackoffOptions, SubscribeOptions, Subscription } from '../../src/index.js';

/** A serialisable description of one subscription under test. */
export interface ProbeConfig {
  baseUrl: string;
  environmentKey: string;
  baseline?: number;
  /** `gated`: each fetchFlags call waits for `releaseFetch`; `fail`: the first `failures` calls reject. */
  fetchFlags?: 'none' | 'gated' | 'fail';
  failures?: number;
  livenessTimeoutMs?: number;
  backoff?: BackoffOptions;
  lastEventIdIn?: 'header' | 'query';
  maxBufferSize?: number;
}

/** One stream request the client made, as seen by a recording `fetch`. */
export interface ConnectionRecord {
  /** When the request was made (`Date.now()`). */
  at: number;
  /** The last event id the request carried (header or query), or null. */
  sentLastEventId: string | null;
  status: number;
  /** Body text received so far. */
  body: string;
  /** The body stream ended, failed or was cancelled: the socket is released. */
  ended: boolean;
}

/** Everything the probe observed, serialisable. */
export interface ProbeSnapshot {
  state: string;
  updatedAt: number | undefined;
  lastEventId: string | undefined;
  updates: number[];
  /** Argument of each fetchFlags call, and the subscription's `updatedAt` at that moment. */
  fetches: { updatedAt: number; baseline: number | undefined }[];
  states: string[];
  /** Each `waiting` change: the drawn delay and the attempt number. */
  waits: { delayMs: number; attempt: number }[];
  errors: { code: string; retryable: boolean; status?: number }[];
  connections: ConnectionRecord[];
}

interface Probe {
  subscription: Subscription;
  snapshot: ProbeSnapshot;
  gates: (() => void)[];
}

/** The probe registry a runtime exposes to the scenarios. */
export interface Harness {
  open(config: ProbeConfig): number;
  snapshot(id: number): ProbeSnapshot;
  /** Lets the oldest waiting gated fetch complete; false if none waits. */
  releaseFetch(id: number): boolean;
  close(id: number): void;
}

/** Builds a {@link Harness} around a runtime's `subscribe`. */
export function createHarness(subscribe: (options: SubscribeOptions) => Subscription): Harness {
  const probes = new Map<number, Probe>();
  let nextId = 1;

  const get = (id: number): Probe => {
    const probe = probes.get(id);
    if (!probe) throw new Error(`no probe ${id}`);
    return probe;
  };

  return {
    open(config) {
      const snapshot: ProbeSnapshot = {
        state: 'connecting',
        updatedAt: undefined,
        lastEventId: undefined,
        updates: [],
        fetches: [],
        states: [],
        waits: [],
        errors: [],
        connections: [],
      };
      const gates: (() => void)[] = [];
      let failures = config.failures ?? 0;
      let subscription: Subscription | undefined;

      const recordingFetch = async (
        url: string,
        init: { headers: Record<string, string>; signal: AbortSignal },
      ): Promise<Response> => {
        const record: ConnectionRecord = {
          at: Date.now(),
          sentLastEventId:
            init.headers['Last-Event-ID'] ?? new URL(url).searchParams.get('lastEventId'),
          status: 0,
          body: '',
          ended: false,
        };
        snapshot.connections.push(record);
        let response: Response;
        try {
          response = await fetch(url, init);
        } catch (error) {
          record.ended = true;
          throw error;
        }
        record.status = response.status;
        // Only a stream is recorded; a Response with status 204 cannot even be rebuilt with a body.
        if (response.status !== 200 || !response.body) {
          record.ended = true;
          return response;
        }
        return new Response(recordBody(response.body, record), {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
        });
      };

      const fetchFlags =
        config.fetchFlags === 'gated'
          ? (updatedAt: number) => {
              snapshot.fetches.push({ updatedAt, baseline: subscription?.updatedAt });
              return new Promise<void>((resolve) => gates.push(resolve));
            }
          : config.fetchFlags === 'fail'
            ? async (updatedAt: number) => {
                snapshot.fetches.push({ updatedAt, baseline: subscription?.updatedAt });
                if (failures-- > 0) throw new Error('flags API unavailable');
              }
            : undefined;

      subscription = subscribe({
        baseUrl: config.baseUrl,
        environmentKey: config.environmentKey,
        baseline: config.baseline,
        livenessTimeoutMs: config.livenessTimeoutMs,
        backoff: config.backoff,
        lastEventIdIn: config.lastEventIdIn,
        maxBufferSize: config.maxBufferSize,
        fetch: recordingFetch,
        fetchFlags,
        onUpdate: (updatedAt) => snapshot.updates.push(updatedAt),
        onStateChange: ({ state, delayMs, attempt }) => {
          snapshot.states.push(state);
          if (state === 'waiting') snapshot.waits.push({ delayMs: delayMs!, attempt: attempt! });
        },
        onError: (error) =>
          snapshot.errors.push({
            code: error.code,
            retryable: error.retryable,
            ...('status' in error ? { status: error.status as number } : {}),
          }),
      });
      const id = nextId++;
      probes.set(id, { subscription, snapshot, gates });
      return id;
    },

    snapshot(id) {
      const { subscription, snapshot } = get(id);
      snapshot.state = subscription.state;
      snapshot.updatedAt = subscription.updatedAt;
      snapshot.lastEventId = subscription.lastEventId;
      // A structured copy, so callers in either runtime see a stable value.
      return JSON.parse(JSON.stringify(snapshot)) as ProbeSnapshot;
    },

    releaseFetch(id) {
      const gate = get(id).gates.shift();
      gate?.();
      return gate !== undefined;
    },

    close(id) {
      get(id).subscription.close();
    },
  };
}

/** Passes a body through unchanged while recording its text and when it ends. */
function recordBody(
  body: ReadableStream<Uint8Array>,
  record: ConnectionRecord,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          record.ended = true;
          controller.close();
          return;
        }
        record.body += decoder.decode(value, { stream: true });
        controller.enqueue(value);
      } catch (error) {
        record.ended = true;
        controller.error(error);
      }
    },
    cancel(reason) {
      record.ended = true;
      return reader.cancel(reason);
    },
  });
}
