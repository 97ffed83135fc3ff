import { describe, expect, it } from 'vitest';
import { LogThrottle } from '../src/log-throttle.js';

describe('LogThrottle', () => {
  it('lets one line per key through per interval and reports how many it held back', () => {
    let now = 0;
    const throttle = new LogThrottle({ intervalMs: 60_000, now: () => now });
    expect(throttle.take('a')).toBe(0);
    expect(throttle.take('a')).toBeUndefined();
    expect(throttle.take('b')).toBe(0);
    now = 59_999;
    expect(throttle.take('a')).toBeUndefined();
    now = 60_000;
    expect(throttle.take('a')).toBe(2);
    expect(throttle.take('a')).toBeUndefined();
  });

  it('forgets the oldest keys beyond maxKeys', () => {
    const throttle = new LogThrottle({ maxKeys: 2, now: () => 0 });
    throttle.take('a');
    throttle.take('b');
    throttle.take('c');
    // `a` was forgotten, so it may log again; `c` is still held back.
    expect(throttle.take('a')).toBe(0);
    expect(throttle.take('c')).toBeUndefined();
  });
});
