import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The documents the fake serves; each fetch of one is counted under its name. */
export type FakeDocument = 'flags' | 'environmentDocument';

/** Options of {@link startFlagsmithApiFake}. */
export interface FlagsmithApiFakeOptions {
  /**
   * The client-side environment key. `GET flags/` answers only requests whose `X-Environment-Key`
   * is this key; the environment document names it as `api_key` (the Python SDK builds its stream
   * URL from that).
   * @defaultValue `'n9fbf9h3v4fFgH3U3ngWhb'`
   */
  environmentKey?: string;
  /**
   * The server-side key (local evaluation). `GET environment-document/` answers only this key.
   * The Python SDK refuses a key that does not start with `ser.`.
   * @defaultValue `'ser.fake-server-key'`
   */
  serverKey?: string;
  /**
   * The environment's `updated_at`, Unix epoch seconds.
   * @defaultValue `1735229888.76`
   */
  updatedAt?: number;
}

/** A running fake; stop it with `close()` or `await using`. */
export interface FlagsmithApiFake extends AsyncDisposable {
  /** The API base URL with its trailing slash, e.g. `http://127.0.0.1:PORT/api/v1/`. */
  readonly url: string;
  readonly environmentKey: string;
  readonly serverKey: string;
  /** The current `updated_at` (seconds). */
  readonly updatedAt: number;
  /** Sets the `updated_at` that the next fetches return (seconds). */
  setUpdatedAt(seconds: number): void;
  /** How many times each document has been served (authorised 200 answers only). */
  fetches(document: FakeDocument): number;
  /**
   * Resolves once `document` has been served at least `count` times in total; rejects after
   * `timeoutMs` with the count reached.
   */
  waitForFetches(document: FakeDocument, count: number, timeoutMs?: number): Promise<void>;
  /** The times (`performance.now()`) of each fetch of `document`, in order. */
  fetchTimes(document: FakeDocument): readonly number[];
  /**
   * Holds the answers to `document` requests until the returned function is called: each answer
   * is made when its request arrives (as a slow network would deliver it) and counted as a fetch
   * when it is sent.
   */
  hold(document: FakeDocument): () => void;
  /** How many answers to `document` are held now. */
  held(document: FakeDocument): number;
  close(): Promise<void>;
}

/** The `api/v1/` prefix the real API has, so a client that mangles the base path is caught. */
const API_PREFIX = '/api/v1/';

/**
 * Starts a fake of the Flagsmith API on 127.0.0.1 (a free port) that serves what the real SDKs
 * fetch: the JavaScript SDK's `GET {api}flags/` and the Python SDK's local-evaluation
 * `GET {api}environment-document/`, both with `X-Flagsmith-Document-Updated-At`, CORS for
 * browsers, and a count of every fetch.
 */
export async function startFlagsmithApiFake(
  options: FlagsmithApiFakeOptions = {},
): Promise<FlagsmithApiFake> {
  const environmentKey = options.environmentKey ?? 'n9fbf9h3v4fFgH3U3ngWhb';
  const serverKey = options.serverKey ?? 'ser.fake-server-key';
  let updatedAt = options.updatedAt ?? 1735229888.76;
  const times: Record<FakeDocument, number[]> = { flags: [], environmentDocument: [] };
  const waiters = new Set<() => void>();
  const holds: Record<FakeDocument, Array<() => void> | undefined> = {
    flags: undefined,
    environmentDocument: undefined,
  };

  const served = (document: FakeDocument): void => {
    times[document].push(performance.now());
    for (const check of waiters) check();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res);
  });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (req.method === 'OPTIONS') {
      // Browsers preflight the SDK's X-Environment-Key header.
      res
        .writeHead(204, {
          'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
          'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? '*',
          'Access-Control-Max-Age': '600',
        })
        .end();
      return;
    }
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const key = req.headers['x-environment-key'];
    const route =
      req.method !== 'GET'
        ? undefined
        : path === `${API_PREFIX}flags/`
          ? { document: 'flags' as const, key: environmentKey }
          : path === `${API_PREFIX}environment-document/`
            ? { document: 'environmentDocument' as const, key: serverKey }
            : undefined;
    if (!route) {
      sendJson(res, 404, { detail: 'Not found.' });
    } else if (key !== route.key) {
      sendJson(res, 401, { detail: 'Invalid X-Environment-Key.' });
    } else {
      const { document } = route;
      const at = updatedAt;
      const body =
        document === 'flags' ? flagsDocument(at) : environmentDocument(environmentKey, at);
      const send = (): void => {
        if (res.destroyed) return;
        served(document);
        sendJson(res, 200, body, at);
      };
      const held = holds[document];
      if (held) held.push(send);
      else send();
    }
  };

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  const close = async (): Promise<void> => {
    if (!server.listening) return;
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  };

  return {
    url: `http://127.0.0.1:${port}${API_PREFIX}`,
    environmentKey,
    serverKey,
    get updatedAt() {
      return updatedAt;
    },
    setUpdatedAt(seconds) {
      updatedAt = seconds;
    },
    fetches: (document) => times[document].length,
    hold(document) {
      const held: Array<() => void> = [];
      holds[document] = held;
      return () => {
        if (holds[document] === held) holds[document] = undefined;
        for (const send of held.splice(0)) send();
      };
    },
    held: (document) => holds[document]?.length ?? 0,
    fetchTimes: (document) => times[document],
    waitForFetches(document, count, timeoutMs = 5_000) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (times[document].length < count) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `${document} was fetched ${times[document].length} times, not ${count}, within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, updatedAt?: number): void {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (updatedAt !== undefined) {
    // The real API sends the environment's updated_at as epoch seconds; browsers may read it only
    // if it is exposed.
    headers['X-Flagsmith-Document-Updated-At'] = String(updatedAt);
    headers['Access-Control-Expose-Headers'] = 'X-Flagsmith-Document-Updated-At';
  }
  res.writeHead(status, headers).end(JSON.stringify(body));
}

/** The flag the fake serves; its value is the `updated_at`, so a test can see which fetch it got. */
export const FAKE_FEATURE_NAME = 'realtime_probe';

/** `GET flags/`: the environment's flags as the JS SDK reads them. */
function flagsDocument(updatedAt: number): unknown[] {
  return [
    {
      id: 1,
      feature: { id: 1, name: FAKE_FEATURE_NAME, type: 'STANDARD' },
      feature_state_value: String(updatedAt),
      enabled: true,
      environment: 1,
      identity: null,
      feature_segment: null,
    },
  ];
}

/** `GET environment-document/`: the fields the Python SDK's local evaluation reads. */
function environmentDocument(environmentKey: string, updatedAt: number): unknown {
  return {
    id: 1,
    api_key: environmentKey,
    name: 'Fake environment',
    // The real API sends ISO-8601 with microseconds; the Python SDK parses it with fromisoformat.
    updated_at: isoWithMicroseconds(updatedAt),
    feature_states: [
      {
        django_id: 1,
        featurestate_uuid: '5a0ea1a4-6a43-4f7e-9a0d-8c7bb6e0b8a1',
        feature: { id: 1, name: FAKE_FEATURE_NAME, type: 'STANDARD' },
        enabled: true,
        feature_state_value: String(updatedAt),
        multivariate_feature_state_values: [],
        feature_segment: null,
      },
    ],
    project: {
      id: 1,
      name: 'Fake project',
      hide_disabled_flags: false,
      organisation: {
        id: 1,
        name: 'Fake org',
        feature_analytics: false,
        stop_serving_flags: false,
      },
      segments: [],
    },
    identity_overrides: [],
  };
}

/** `1735229888.76` -> `2024-12-26T16:18:08.760000+00:00`, keeping all six fractional digits. */
export function isoWithMicroseconds(seconds: number): string {
  const micros = Math.round(seconds * 1e6);
  const whole = new Date(Math.floor(micros / 1e6) * 1000).toISOString().slice(0, 19);
  const fraction = String(micros % 1e6).padStart(6, '0');
  return `${whole}.${fraction}+00:00`;
}
