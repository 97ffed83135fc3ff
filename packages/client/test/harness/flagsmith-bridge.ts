// Runs inside the client's runtime (Node, or bundled into a Chromium page): the real `flagsmith`
// SDK connected through `connectFlagsmith`. No Node imports.
import type { IFlagsmith } from 'flagsmith/types';
import { connectFlagsmith } from '../../src/flagsmith.js';
import type { Subscription } from '../../src/index.js';

/** A serialisable description of one bridged SDK instance. */
export interface BridgeConfig {
  /** The fake Flagsmith API's base URL (`…/api/v1/`). */
  api: string;
  environmentKey: string;
  /** The real-time service. */
  baseUrl: string;
  /** The flag whose value the fake sets to the `updated_at` it serves. */
  feature: string;
  /** Call `connectFlagsmith` before `flagsmith.init()` (it must refuse). */
  beforeInit?: boolean;
}

/** What the bridge and the SDK show, serialisable. */
export interface BridgeSnapshot {
  state: string | undefined;
  /** The subscription's baseline. */
  updatedAt: number | undefined;
  /** Each timestamp the bridge moved to, after `flagsmith.getFlags()` resolved. */
  updates: number[];
  /** `flagsmith.getValue(feature)`: the `updated_at` of the flags the SDK holds. */
  value: string | null;
  /** What `connectFlagsmith` threw, if it threw. */
  thrown?: { name: string; code: string; message: string };
}

/** The bridge registry a runtime exposes to the tests. */
export interface BridgeHarness {
  /** Creates an SDK instance, initialises it against the fake API and connects it. */
  start(config: BridgeConfig): Promise<number>;
  snapshot(id: number): BridgeSnapshot;
  close(id: number): void;
}

interface Bridge {
  flagsmith: IFlagsmith;
  feature: string;
  subscription?: Subscription;
  state?: string;
  updates: number[];
  thrown?: BridgeSnapshot['thrown'];
}

/**
 * Builds a {@link BridgeHarness} around the runtime's `createFlagsmithInstance` (from
 * `flagsmith` in a browser, `flagsmith/isomorphic` in Node, as the SDK's docs say).
 */
export function createBridgeHarness(createFlagsmithInstance: () => IFlagsmith): BridgeHarness {
  const bridges = new Map<number, Bridge>();
  let nextId = 1;
  const get = (id: number): Bridge => {
    const bridge = bridges.get(id);
    if (!bridge) throw new Error(`no bridge ${id}`);
    return bridge;
  };

  return {
    async start(config) {
      const bridge: Bridge = {
        flagsmith: createFlagsmithInstance(),
        feature: config.feature,
        updates: [],
      };
      const connect = (): void => {
        try {
          bridge.subscription = connectFlagsmith(bridge.flagsmith, {
            baseUrl: config.baseUrl,
            onUpdate: (updatedAt) => bridge.updates.push(updatedAt),
            onStateChange: ({ state }) => {
              bridge.state = state;
            },
          });
        } catch (error) {
          const { name, code, message } = error as Error & { code: string };
          bridge.thrown = { name, code, message };
        }
      };
      if (config.beforeInit) connect();
      await bridge.flagsmith.init({ environmentID: config.environmentKey, api: config.api });
      if (!config.beforeInit) connect();
      const id = nextId++;
      bridges.set(id, bridge);
      return id;
    },

    snapshot(id) {
      const { subscription, state, updates, thrown, flagsmith, feature } = get(id);
      const value = flagsmith.getValue(feature);
      return JSON.parse(
        JSON.stringify({
          state,
          updatedAt: subscription?.updatedAt,
          updates,
          value: value === null || value === undefined ? null : String(value),
          thrown,
        }),
      ) as BridgeSnapshot;
    },

    close(id) {
      get(id).subscription?.close();
    },
  };
}
