import { describe, expect, test } from 'vitest';
import { H2_CASE_KINDS, H2_PREFACE, h2Case, h2CaseOfKind } from '../src/fuzz/h2.js';
import { Random } from '../src/fuzz/random.js';

const KEY = 'n9fbf9h3v4fFgH3U3ngWhb';

/** The frames after the preface as [type, flags, stream id]; throws if the bytes are not whole frames. */
function frames(bytes: Buffer): Array<[number, number, number]> {
  expect(bytes.subarray(0, H2_PREFACE.length).equals(H2_PREFACE)).toBe(true);
  const out: Array<[number, number, number]> = [];
  let at = H2_PREFACE.length;
  while (at < bytes.length) {
    const length = bytes.readUIntBE(at, 3);
    out.push([bytes[at + 3]!, bytes[at + 4]!, bytes.readUInt32BE(at + 5)]);
    at += 9 + length;
  }
  expect(at).toBe(bytes.length);
  return out;
}

describe('h2 phase cases', () => {
  test('the same seed gives the same bytes; kinds come in turn', () => {
    const draw = (seed: number) => {
      const rng = new Random(seed);
      return Array.from({ length: 50 }, (_, i) => h2Case(rng, i, KEY));
    };
    expect(draw(7).map((c) => c.bytes.toString('hex'))).toEqual(
      draw(7).map((c) => c.bytes.toString('hex')),
    );
    expect(draw(7).map((c) => c.kind)).toEqual(
      Array.from({ length: 50 }, (_, i) => H2_CASE_KINDS[i % H2_CASE_KINDS.length]),
    );
  });

  test('every kind is whole frames after the preface, and carries its fault', () => {
    const rng = new Random(3);
    const of = (kind: (typeof H2_CASE_KINDS)[number]) => frames(h2CaseOfKind(kind, rng, KEY).bytes);
    const types = (kind: (typeof H2_CASE_KINDS)[number]) => of(kind).map(([t]) => t);
    // GOAWAY (7) before a HEADERS (1) on a new stream.
    const goaway = types('goaway-then-headers');
    expect(goaway.indexOf(7)).toBeLessThan(goaway.lastIndexOf(1));
    expect(of('data-on-stream-0')).toContainEqual([0, 0, 0]);
    expect(of('headers-on-stream-0').some(([t, , id]) => t === 1 && id === 0)).toBe(true);
    expect(of('window-update-on-stream-0').some(([t, , id]) => t === 8 && id === 0)).toBe(true);
    expect(types('ping-flood').filter((t) => t === 6).length).toBeGreaterThanOrEqual(1_000);
    expect(types('rapid-reset').filter((t) => t === 3).length).toBeGreaterThanOrEqual(500);
    expect(types('continuation-flood').filter((t) => t === 9).length).toBeGreaterThanOrEqual(1_000);
    expect(types('priority-flood').filter((t) => t === 2).length).toBeGreaterThanOrEqual(1_000);
    // After the connection error (DATA on stream 0), more frames follow.
    const afterError = of('frames-after-connection-error');
    const error = afterError.findIndex(([t, , id]) => t === 0 && id === 0);
    expect(error).toBeGreaterThan(0);
    expect(afterError.length).toBeGreaterThan(error + 1);
    // A HEADERS without END_HEADERS (0x4), nothing after it, held open.
    const held = h2CaseOfKind('headers-without-end-headers-held', rng, KEY);
    const last = frames(held.bytes).at(-1)!;
    expect(last[0]).toBe(1);
    expect(last[1] & 0x4).toBe(0);
    expect(held.holdMs).toBeUndefined();
    // SETTINGS carries 6-byte entries.
    expect(types('settings-edge-values')[0]).toBe(4);
  });
});
