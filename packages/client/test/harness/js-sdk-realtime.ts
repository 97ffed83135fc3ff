// Runs inside the SDK's runtime (Node, or bundled into a Chromium page): the official `flagsmith`
// SDK in its own real-time mode (`realtime: true`), with nothing of ours between it and the
// stream. No Node imports.
import type { IFlagsmith } from 'flagsmith/types';

/** A serialisable description of one SDK instance. */
export interface RealtimeConfig {
  /** The fake Flagsmith API's base URL (`…/api/v1/`). */
  api: string;
  environmentKey: string;
  /** The SDK's `eventSourceUrl`: the real-time service's base URL, with its trailing slash. */
  eventSourceUrl: string;
  /** The flag whose value the fake sets to the `updated_at` it serves. */
  feature: string;
}

/** One `environment_updated` event as the SDK's own `EventSource` dispatched it. */
export interface SeenEvent {
  /** `updated_at` of the event's data, as parsed from JSON (`null` when it did not parse). */
  updatedAt: unknown;
  /**
   * Whether the SDK had a flags fetch in flight right after its listener ran for this event. The
   * tests publish only while no fetch is in flight, so `true` means this event started one.
   */
  fetching: boolean;
}

/** What the SDK shows, serialisable. */
export interface RealtimeSnapshot {
  /** `flagsmith.getValue(feature)`: the `updated_at` of the flags the SDK holds. */
  value: string | null;
  /** The SDK's baseline: the `X-Flagsmith-Document-Updated-At` of its last flags response. */
  timestamp: number | null;
  /** The URL the SDK built for its stream. */
  streamUrl: string | null;
  /** `readyState` of the SDK's `EventSource` (0 connecting, 1 open, 2 closed). */
  readyState: number | null;
  /** How many times the SDK's stream opened, and how many errors it saw. */
  opens: number;
  errors: number;
  /** Every `environment_updated` event, in order. */
  events: SeenEvent[];
  /** How many times the SDK called `onChange` (once per flags response). */
  changes: number;
}

/** The registry a runtime exposes to the tests. */
export interface RealtimeHarness {
  /** Creates an SDK instance and runs `flagsmith.init({ realtime: true, … })`. */
  start(config: RealtimeConfig): Promise<number>;
  snapshot(id: number): RealtimeSnapshot;
  /** Closes the SDK's `EventSource` (the SDK has no method for it). */
  close(id: number): void;
}

/** The part of the `reconnecting-eventsource` wrapper the SDK keeps that the harness reads. */
interface SdkEventSource {
  readonly url: string;
  readonly readyState: number;
  addEventListener(type: string, listener: (event: { data: string }) => void): void;
  close(): void;
}

/**
 * Public fields of the SDK's `Flagsmith` class (`flagsmith-core.ts`) that its type declarations
 * leave out: the `EventSource` it opens in `setupRealtime`, the flag it sets while `getFlags` runs,
 * and its baseline timestamp.
 */
interface SdkFields {
  eventSource: SdkEventSource | null;
  isLoading: boolean;
  timestamp: number | null;
  analyticsInterval?: ReturnType<typeof setInterval> | null;
}

interface Instance {
  flagsmith: IFlagsmith & SdkFields;
  feature: string;
  opens: number;
  errors: number;
  events: SeenEvent[];
  changes: number;
}

/**
 * Builds a {@link RealtimeHarness} around the runtime's `createFlagsmithInstance` (from
 * `flagsmith` in a browser, `flagsmith/isomorphic` in Node).
 */
export function createRealtimeHarness(createFlagsmithInstance: () => IFlagsmith): RealtimeHarness {
  const instances = new Map<number, Instance>();
  let nextId = 1;
  const get = (id: number): Instance => {
    const instance = instances.get(id);
    if (!instance) throw new Error(`no SDK instance ${id}`);
    return instance;
  };

  return {
    async start(config) {
      const instance: Instance = {
        flagsmith: createFlagsmithInstance() as IFlagsmith & SdkFields,
        feature: config.feature,
        opens: 0,
        errors: 0,
        events: [],
        changes: 0,
      };
      const { flagsmith } = instance;
      await flagsmith.init({
        environmentID: config.environmentKey,
        api: config.api,
        realtime: true,
        eventSourceUrl: config.eventSourceUrl,
        onChange: () => {
          instance.changes++;
        },
      });
      const source = flagsmith.eventSource;
      if (!source) throw new Error('flagsmith.init({ realtime: true }) opened no EventSource');
      // Added after the SDK's own listener (setupRealtime adds it inside init), so each of these
      // runs right after the SDK has handled the same event.
      source.addEventListener('environment_updated', (event) => {
        let updatedAt: unknown = null;
        try {
          updatedAt = (JSON.parse(event.data) as { updated_at?: unknown }).updated_at;
        } catch {}
        instance.events.push({ updatedAt, fetching: flagsmith.isLoading });
      });
      source.addEventListener('open', () => {
        instance.opens++;
      });
      source.addEventListener('error', () => {
        instance.errors++;
      });
      // The stream may have opened before the listener above was added.
      if (source.readyState === 1) instance.opens++;
      const id = nextId++;
      instances.set(id, instance);
      return id;
    },

    snapshot(id) {
      const { flagsmith, feature, opens, errors, events, changes } = get(id);
      const value = flagsmith.getValue(feature);
      return JSON.parse(
        JSON.stringify({
          value: value === null || value === undefined ? null : String(value),
          timestamp: flagsmith.timestamp,
          streamUrl: flagsmith.eventSource?.url ?? null,
          readyState: flagsmith.eventSource?.readyState ?? null,
          opens,
          errors,
          events,
          changes,
        }),
      ) as RealtimeSnapshot;
    },

    close(id) {
      const { flagsmith } = get(id);
      flagsmith.eventSource?.close();
      // Started by init() wherever `window` exists; the SDK has no method that stops it.
      if (flagsmith.analyticsInterval) clearInterval(flagsmith.analyticsInterval);
    },
  };
}
