import { describe, expect, test } from 'vitest';
import { H2_CASE_KINDS } from '../src/fuzz/h2.js';
import { runH2Phase } from '../src/scenarios/h2-phase.js';
import { makeCertificates } from '../src/tls.js';

// A short run of hostile-input's h2 phase against a real apps/sse process (embedded broker):
// a few connections of every kind, then no crash, no leaked descriptor, no leaked subscriber.
// Which protocol the port speaks follows H2C's default for the service's runtime.
const serviceNode = process.env.CHAOS_SERVICE_NODE;

describe('hostile-input h2 phase (smoke)', () => {
  test('every kind runs; nothing crashes or leaks', async () => {
    const result = await runH2Phase({
      token: 'h2-phase-smoke-token-0123456789abcdefghijkl',
      workers: 1,
      h2c: undefined,
      perKind: 4,
      concurrency: 4,
      keepAliveSeconds: 2,
      seed: 1,
      streamKey: 'n9fbf9h3v4fFgH3U3ngWhb',
      log: () => {},
    });
    if (serviceNode === undefined) {
      const major = Number(process.versions.node.split('.')[0]);
      expect(result.spoken).toBe(major >= 24 ? 'h2' : 'http/1.1');
    }
    expect(result.rows.map((r) => r.kind)).toEqual([...H2_CASE_KINDS]);
    for (const row of result.rows) {
      expect(row, row.kind).toMatchObject({
        connections: 4,
        crashes: 0,
        leakedFds: 0,
        leakedSubscribers: 0,
        livez: true,
      });
    }
  }, 120_000);

  test('over TLS (ALPN h2, whatever H2C says) every kind runs; nothing crashes or leaks', async () => {
    const certs = makeCertificates();
    try {
      const result = await runH2Phase({
        token: 'h2-phase-smoke-token-0123456789abcdefghijkl',
        tls: { certFile: certs.certFile, keyFile: certs.keyFile },
        workers: 1,
        h2c: 'off',
        perKind: 3,
        concurrency: 3,
        keepAliveSeconds: 2,
        seed: 2,
        streamKey: 'n9fbf9h3v4fFgH3U3ngWhb',
        log: () => {},
      });
      expect(result).toMatchObject({ transport: 'tls', spoken: 'h2' });
      for (const row of result.rows) {
        expect(row, row.kind).toMatchObject({
          connections: 3,
          crashes: 0,
          leakedFds: 0,
          leakedSubscribers: 0,
          livez: true,
        });
      }
    } finally {
      certs.remove();
    }
  }, 120_000);
});
