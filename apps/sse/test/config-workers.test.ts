import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';

const NATS = { NATS_URL: 'nats://n:4222' };
const noFiles = (path: string): string => {
  throw new Error(`no file ${path}`);
};

describe('SSE_WORKERS', () => {
  it('defaults to the number of CPUs with NATS', () => {
    const result = parseConfig(NATS, noFiles, 4);
    expect(result.ok && result.value).toMatchObject({ workers: 4, workersSource: 'cpus' });
  });

  it('defaults to one process with the embedded broker, saying why', () => {
    const result = parseConfig({}, noFiles, 4);
    expect(result.ok && result.value).toMatchObject({
      workers: 1,
      workersSource: 'embedded-broker',
    });
  });

  it('takes an explicit count, 1 included, with or without NATS', () => {
    const many = parseConfig({ ...NATS, SSE_WORKERS: '3' }, noFiles, 8);
    expect(many.ok && many.value).toMatchObject({ workers: 3, workersSource: 'configured' });
    const one = parseConfig({ SSE_WORKERS: '1' }, noFiles, 8);
    expect(one.ok && one.value).toMatchObject({ workers: 1, workersSource: 'configured' });
  });

  it('refuses more than one worker with the embedded broker, explaining why', () => {
    const result = parseConfig({ SSE_WORKERS: '2' }, noFiles, 8);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]?.variable).toBe('SSE_WORKERS');
    expect(result.errors[0]?.message).toContain('needs NATS_URL');
    expect(result.errors[0]?.message).toContain('would not share updates');
  });

  it.each(['0', '-1', 'two', '1.5', '257'])('refuses SSE_WORKERS=%s', (value) => {
    const result = parseConfig({ ...NATS, SSE_WORKERS: value }, noFiles, 2);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((e) => e.variable)).toEqual(['SSE_WORKERS']);
  });
});
