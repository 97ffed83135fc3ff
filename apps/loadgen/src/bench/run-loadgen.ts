import { join } from 'node:path';
import { parseCommand } from '../options.js';
import { Progress } from '../progress.js';
import type { AnyResult } from '../report/markdown.js';
import { runCommand, writeOutputs } from '../run.js';
import type { Run } from './matrix.js';

/** Paths the benchmark needs. */
export interface BenchPaths {
  /** `apps/sse/dist/main.js`. */
  sseMain: string;
  /** Where reports go. */
  reportsDir: string;
  natsBinary: string;
  nginxBinary: string;
  /** The Node binary `apps/sse` runs on. @defaultValue this process's */
  sseNode?: string;
  /** Another checkout's `apps/sse/dist/main.js`, run as `baseline` (`pnpm bench --baseline DIR`). */
  baselineMain?: string;
}

const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/**
 * Runs one loadgen command in this process (exactly the argv a person would
 * type after `pnpm loadgen`), writes its JSON and HTML report.
 */
export async function loadgen<R extends AnyResult>(
  paths: BenchPaths,
  name: string,
  argv: string[],
  log: (l: string) => void,
): Promise<Run<R>> {
  const command = parseCommand(argv);
  if (command.command === 'help') throw new Error('unreachable');
  const html = `${name}.html`;
  const json = `${name}.json`;
  log(`$ pnpm loadgen ${argv.map(quote).join(' ')}`);
  const result = (await runCommand(command, new Progress())) as R;
  writeOutputs(result, {
    json: join(paths.reportsDir, json),
    html: join(paths.reportsDir, html),
    markdown: undefined,
    strict: false,
  });
  return { command: `pnpm loadgen ${argv.map(quote).join(' ')}`, result, html, json };
}
