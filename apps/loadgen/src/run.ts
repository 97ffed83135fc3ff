import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { runConnect } from './connect.js';
import { runFanout } from './fanout.js';
import { type Command, type OutputOptions, parseCommand, USAGE } from './options.js';
import { Progress } from './progress.js';
import { runPublish } from './publish.js';
import { resultHtml } from './report/html.js';
import { type AnyResult, isClean, markdownSummary } from './report/markdown.js';
import { runStorm } from './storm.js';

/** Runs a parsed command and returns its result (undefined for help). */
export async function runCommand(
  command: Command,
  progress = new Progress(),
): Promise<AnyResult | undefined> {
  switch (command.command) {
    case 'help':
      return undefined;
    case 'fanout':
      return runFanout(command.options, progress);
    case 'publish':
      return runPublish(command.options, progress);
    case 'connect':
      return runConnect(command.options, progress);
    case 'storm':
      return runStorm(command.options, progress);
  }
}

/** Writes the JSON, Markdown and HTML files a command asked for. */
export function writeOutputs(result: AnyResult, output: OutputOptions): void {
  const write = (path: string | undefined, text: string) => {
    if (path === undefined) return;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  };
  write(output.json, `${JSON.stringify(result, null, 2)}\n`);
  write(output.markdown, `${markdownSummary(result)}\n`);
  write(output.html, resultHtml(result));
}

/**
 * The CLI: parse, run, print the Markdown summary, write the files; returns
 * the exit code (1 with `--strict` when the run lost anything).
 */
export async function main(
  argv: readonly string[],
): Promise<{ code: number; result: AnyResult | undefined }> {
  const command = parseCommand(argv);
  if (command.command === 'help') {
    process.stdout.write(USAGE);
    return { code: 0, result: undefined };
  }
  const progress = new Progress();
  const result = await runCommand(command, progress);
  progress.done();
  if (result === undefined) return { code: 0, result };
  process.stdout.write(`${markdownSummary(result)}\n`);
  writeOutputs(result, command.output);
  return { code: command.output.strict && !isClean(result) ? 1 : 0, result };
}
