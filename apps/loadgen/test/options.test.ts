import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nchanConfig } from '../src/bench/processes.js';
import { BEGIN, END, writeBenchmarksMd } from '../src/bench/write.js';
import { LoadgenError } from '../src/errors.js';
import { parseCommand, parseDuration } from '../src/options.js';
import { publishUrlTemplate, redactHeaders, streamUrls } from '../src/scenario.js';
import { linearFit, quantile, sorted, summarize } from '../src/stats.js';
import { renderTemplate, sourceFor, sourceNetwork } from '../src/target.js';

describe('parseCommand', () => {
  it('builds a fan-out against any server from templates, with the token as a header', () => {
    const command = parseCommand(
      [
        'fanout',
        '--target',
        'http://127.0.0.1:9000',
        '--target',
        'http://127.0.0.1:9001',
        '--env',
        'a',
        '--env',
        'b',
        '--stream-url',
        '{target}/sub/{env}',
        '--publish-url',
        '{target}/pub/{env}',
        '--subscribers',
        '19k',
        '--interval',
        '250ms',
        '--ramp',
        '0',
      ],
      { SSE_AUTHENTICATION_TOKEN: 't0k' },
    );
    if (command.command !== 'fanout') throw new Error('expected fanout');
    expect(command.options.subscribers).toBe(19_000);
    expect(command.options.intervalMs).toBe(250);
    expect(command.options.rampPerSecond).toBe(0);
    expect(command.options.publishHeaders).toEqual(['Authorization: Token t0k']);
    expect(streamUrls(command.options)).toEqual([
      'http://127.0.0.1:9000/sub/a',
      'http://127.0.0.1:9001/sub/a',
      'http://127.0.0.1:9000/sub/b',
      'http://127.0.0.1:9001/sub/b',
    ]);
    expect(publishUrlTemplate(command.options)).toBe('http://127.0.0.1:9000/pub/{env}');
  });

  it('defaults to the protocol paths and a fresh environment per run', () => {
    const a = parseCommand(['publish'], {});
    const b = parseCommand(['publish'], {});
    if (a.command !== 'publish' || b.command !== 'publish') throw new Error('expected publish');
    expect(streamUrls(a.options)[0]).toMatch(
      /^http:\/\/127\.0\.0\.1:8088\/sse\/environments\/loadgen_[0-9a-f]{12}\/stream$/,
    );
    expect(a.options.envs[0]).not.toBe(b.options.envs[0]);
    expect(a.options.bodyTemplate).toBe('{"updated_at": {ts}}');
  });

  it('rejects non-loopback targets, unknown options and bad numbers with invalid_option', () => {
    for (const argv of [
      ['fanout', '--target', 'http://192.168.1.1:80'],
      ['fanout', '--publish-url', 'http://example.com/{env}'],
      ['fanout', '--nope'],
      ['fanout', '--subscribers', '-3'],
      ['connect', '--connect-timeout', 'soon'],
      ['storm'],
    ]) {
      expect(() => parseCommand(argv, {}), argv.join(' ')).toThrow(LoadgenError);
    }
  });

  it('parses durations', () => {
    expect(parseDuration('2m', 'x')).toBe(120_000);
    expect(parseDuration('1.5s', 'x')).toBe(1500);
    expect(parseDuration('40', 'x')).toBe(40);
  });
});

describe('helpers', () => {
  it('renders templates, leaving unknown placeholders', () => {
    expect(renderTemplate('{"updated_at": {ts}, "x": {y}}', { ts: '1.5' })).toBe(
      '{"updated_at": 1.5, "x": {y}}',
    );
  });

  it('masks credentials in headers written to results', () => {
    expect(redactHeaders(['Authorization: Token abc', 'X-Trace: 1'])).toEqual([
      'Authorization: ***',
      'X-Trace: 1',
    ]);
  });

  it('gives each worker its own source addresses and ports below the ephemeral range', () => {
    expect(sourceFor(sourceNetwork(7, 0), 0)).toEqual({
      localAddress: '127.7.1.2',
      localPort: 20_000,
    });
    expect(sourceFor(sourceNetwork(7, 2), 18_999)).toEqual({
      localAddress: '127.7.3.3',
      localPort: 28_999,
    });
  });

  it('computes nearest-rank percentiles and a linear fit', () => {
    const s = summarize(sorted([5, 1, 4, 2, 3, 6, 7, 8, 9, 10]));
    expect([s.min, s.p50, s.p90, s.p99, s.max]).toEqual([1, 5, 9, 10, 10]);
    expect(quantile(sorted([]), 0.5)).toBeNaN();
    const fit = linearFit([1000, 5000, 10_000], [20, 100, 200]);
    expect(fit.slope).toBeCloseTo(0.02);
    expect(fit.r2).toBeCloseTo(1);
  });

  it('configures nchan as one process, or several workers sharing the port, backlog 4096 as ours', () => {
    const one = nchanConfig('/tmp/x', 8090);
    expect(one).toContain('master_process off;');
    expect(one).toContain('nchan_subscriber eventsource;');
    expect(one).toContain('nchan_message_buffer_length 1;');
    expect(one).toContain('listen 127.0.0.1:8090 backlog=4096;');
    const six = nchanConfig('/tmp/x', 8090, 6);
    expect(six).toContain('worker_processes 6;');
    expect(six).toContain('listen 127.0.0.1:8090 backlog=4096 reuseport;');
  });

  it('rewrites only the generated section of BENCHMARKS.md', () => {
    const dir = mkdtempSync(join(tmpdir(), 'loadgen-md-'));
    try {
      const path = join(dir, 'B.md');
      writeFileSync(path, `# Title\n\nintro\n\n${BEGIN}\nold\n${END}\n\n## Notes\nkept\n`);
      writeBenchmarksMd(path, 'new table');
      expect(readFileSync(path, 'utf8')).toBe(
        `# Title\n\nintro\n\n${BEGIN}\nnew table\n${END}\n\n## Notes\nkept\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
