import { LATEST_TTL_MS } from '@flagsmith-rt/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { LatestStore } from '../src/broker/latest-store.js';
import { ManualClock } from './helpers/manual-clock.js';

describe('LatestStore', () => {
  let store: LatestStore | undefined;
  afterEach(() => store?.close());

  it('accepts only strictly newer timestamps', () => {
    const clock = new ManualClock();
    store = new LatestStore({ now: clock.now });
    expect(store.offer('env', 10.5, clock.now())).toBe(true);
    expect(store.offer('env', 10.5, clock.now())).toBe(false);
    expect(store.offer('env', 9, clock.now())).toBe(false);
    expect(store.latest('env')).toBe(10.5);
    expect(store.offer('env', 11, clock.now())).toBe(true);
    expect(store.latest('env')).toBe(11);
    expect(store.latest('other')).toBeUndefined();
  });

  it('forgets an entry by its stored time, never by the timestamp value', () => {
    const clock = new ManualClock();
    store = new LatestStore({ now: clock.now });
    // A timestamp far in the past is remembered: only the stored time counts.
    store.offer('env', 1, clock.now());
    clock.advance(LATEST_TTL_MS - 1);
    expect(store.latest('env')).toBe(1);
    clock.advance(1);
    expect(store.latest('env')).toBeUndefined();
    // Once forgotten, an older timestamp is new again.
    expect(store.offer('env', 0.5, clock.now())).toBe(true);
  });

  it('measures the TTL from the given stored time', () => {
    const clock = new ManualClock();
    store = new LatestStore({ now: clock.now });
    store.offer('env', 5, clock.now() - LATEST_TTL_MS + 1000);
    expect(store.latest('env')).toBe(5);
    clock.advance(1000);
    expect(store.latest('env')).toBeUndefined();
  });

  it('sweeps expired entries out of memory', () => {
    const clock = new ManualClock();
    store = new LatestStore({ now: clock.now, ttlMs: 100 });
    store.offer('a', 1, clock.now());
    clock.advance(50);
    store.offer('b', 1, clock.now());
    clock.advance(60);
    store.sweep();
    expect(store.size).toBe(1);
    expect(store.latest('b')).toBe(1);
  });
});

describe('LatestStore sequences', () => {
  it('takes the sequence of each newer update and only raises it otherwise', () => {
    const store = new LatestStore();
    store.offer('env', 10, Date.now(), 40);
    expect(store.get('env')?.sequence).toBe(40);
    store.offer('env', 9, Date.now(), 41);
    store.noteSequence('env', 39);
    expect(store.get('env')).toMatchObject({ updatedAt: 10, sequence: 41 });
    // A newer update stored at a lower sequence (recreated stream) resets it.
    store.offer('env', 11, Date.now(), 3);
    expect(store.get('env')).toMatchObject({ updatedAt: 11, sequence: 3 });
    store.close();
  });
});
