import { randomBytes } from 'node:crypto';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { ConnectOptions } from './connect.js';
import { LoadgenError } from './errors.js';
import type { FanoutOptions } from './fanout.js';
import type { PublishOptions } from './publish.js';
import { CLIENT_BACKOFF } from './reconnect.js';
import {
  DEFAULT_BODY_TEMPLATE,
  DEFAULT_PUBLISH_TEMPLATE,
  DEFAULT_STREAM_TEMPLATE,
  publishUrlTemplate,
  type ServerTemplates,
  streamUrls,
} from './scenario.js';
import type { StormOptions } from './storm.js';
import { parseEndpoint, renderTemplate } from './target.js';

/** Where results go. */
export interface OutputOptions {
  json: string | undefined;
  markdown: string | undefined;
  html: string | undefined;
  /** Exit non-zero unless the run was clean (100 % delivered, no failures). */
  strict: boolean;
}

/** A parsed command line. */
export type Command =
  | { command: 'fanout'; options: FanoutOptions; output: OutputOptions }
  | { command: 'publish'; options: PublishOptions; output: OutputOptions }
  | { command: 'connect'; options: ConnectOptions; output: OutputOptions }
  | { command: 'storm'; options: StormOptions; output: OutputOptions }
  | { command: 'help' };

const OPTIONS = {
  target: { type: 'string', multiple: true },
  env: { type: 'string', multiple: true },
  envs: { type: 'string' },
  'stream-url': { type: 'string' },
  'publish-url': { type: 'string' },
  'publish-method': { type: 'string' },
  'publish-body': { type: 'string' },
  header: { type: 'string', multiple: true },
  token: { type: 'string' },
  pid: { type: 'string', multiple: true },
  label: { type: 'string' },
  json: { type: 'string' },
  md: { type: 'string' },
  html: { type: 'string' },
  strict: { type: 'boolean' },
  workers: { type: 'string' },
  'same-source': { type: 'boolean' },
  subscribers: { type: 'string' },
  updates: { type: 'string' },
  interval: { type: 'string' },
  ramp: { type: 'string' },
  'connect-timeout': { type: 'string' },
  'settle-timeout': { type: 'string' },
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  clients: { type: 'string' },
  'publish-after-connected': { type: 'string' },
  'kill-pid': { type: 'string' },
  'publish-delay': { type: 'string' },
  'backoff-base': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

/** The `--help` text. */
export const USAGE = `Usage: pnpm loadgen <fanout|publish|connect|storm> [options]

  fanout   open N subscribers, publish K updates, measure delivery and latency
  publish  drive publishes at a concurrency for a duration
  connect  open N clients at once, time until all are connected
  storm    hold N reconnecting subscribers over several targets, SIGKILL the first
           target's process, publish once; time until all are back with the update

Server (any SSE fan-out server; templates take {target}, {env}, {ts}):
  --target URL           instance base URL, repeatable (default http://127.0.0.1:8088)
  --env NAME             environment/channel, repeatable (default one random name)
  --envs N               use N random environment names
  --stream-url T         default ${DEFAULT_STREAM_TEMPLATE}
  --publish-url T        default ${DEFAULT_PUBLISH_TEMPLATE} ({target} = first target)
  --publish-method M     default POST
  --publish-body T       default ${DEFAULT_BODY_TEMPLATE}
  --header 'N: v'        publish header, repeatable
  --token T              adds 'Authorization: Token T' (default $SSE_AUTHENTICATION_TOKEN)
  --pid PID              server process to sample (RSS, CPU), repeatable

fanout:   --subscribers N (1000) --updates K (10) --interval 1s --ramp 5000 (per second, 0 = at once)
          --workers W (1; at least one per 19,000) --connect-timeout 30s --settle-timeout 10s --same-source
          --publish-after-connected M: publish once M are connected, while the rest connect
            (reports the intermediate updates each subscriber missed)
publish:  --concurrency C (64) --duration 10s --workers W (1)
          --rate R: at most R requests/s over all connections (default: as fast as answered)
connect:  --clients N (1000) --workers W --connect-timeout 30s
storm:    --kill-pid PID (serves the first --target; required) --subscribers N (1000) --ramp 5000
          --publish-delay 1s --settle-timeout 30s --backoff-base 1000ms (the client's default)

Output:   Markdown summary on stdout; --json FILE, --md FILE, --html FILE; --label NAME;
          --strict exits 1 unless 100 % delivered / no failures.
`;

/** Parses `10s`, `500ms`, `2m` or a bare number of milliseconds. */
export function parseDuration(text: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m)
    throw new LoadgenError(
      'invalid_option',
      `--${name} must be a duration like 500ms, 10s or 2m, not "${text}".`,
    );
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n;
}

function count(text: string | undefined, name: string, fallback: number, min = 0): number {
  if (text === undefined) return fallback;
  const n = Number(text.replace(/[_,]/g, '').replace(/k$/i, '000'));
  if (!Number.isInteger(n) || n < min) {
    throw new LoadgenError(
      'invalid_option',
      `--${name} must be an integer ≥ ${min}, not "${text}".`,
    );
  }
  return n;
}

/** Parses a command line (without `node` and the script). */
export function parseCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Command {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h')
    return { command: 'help' };
  if (
    command !== 'fanout' &&
    command !== 'publish' &&
    command !== 'connect' &&
    command !== 'storm'
  ) {
    throw new LoadgenError('invalid_option', `Unknown command "${command}".\n\n${USAGE}`);
  }
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; args: string[] }>>['values'];
  try {
    ({ values } = parseArgs({
      args: [...rest],
      options: OPTIONS,
      strict: true,
      allowPositionals: false,
    }));
  } catch (cause) {
    throw new LoadgenError('invalid_option', `${(cause as Error).message}\n\n${USAGE}`, { cause });
  }
  if (values.help) return { command: 'help' };

  const envCount = count(values.envs, 'envs', 0);
  const envs = values.env ?? [];
  for (let i = 0; i < envCount; i++) envs.push(randomEnv());
  if (envs.length === 0) envs.push(randomEnv());
  const headers = [...(values.header ?? [])];
  const token = values.token ?? env.SSE_AUTHENTICATION_TOKEN;
  if (token !== undefined && !headers.some((h) => /^authorization\s*:/i.test(h)))
    headers.push(`Authorization: Token ${token}`);
  const templates: ServerTemplates = {
    targets: values.target ?? ['http://127.0.0.1:8088'],
    envs,
    streamTemplate: values['stream-url'] ?? DEFAULT_STREAM_TEMPLATE,
    publishTemplate: values['publish-url'] ?? DEFAULT_PUBLISH_TEMPLATE,
    publishMethod: values['publish-method'] ?? 'POST',
    publishHeaders: headers,
    bodyTemplate: values['publish-body'] ?? DEFAULT_BODY_TEMPLATE,
  };
  // Fail before any worker starts: every URL must be a loopback http:// URL.
  for (const url of streamUrls(templates)) parseEndpoint(url);
  parseEndpoint(renderTemplate(publishUrlTemplate(templates), { env: envs[0]!, ts: '1' }));
  const pids = (values.pid ?? []).map((p) => count(p, 'pid', 0, 1));
  const output: OutputOptions = {
    json: values.json,
    markdown: values.md,
    html: values.html,
    strict: values.strict ?? false,
  };
  const workers = count(values.workers, 'workers', 1, 1);
  const connectTimeoutMs = parseDuration(values['connect-timeout'] ?? '30s', 'connect-timeout');
  const spreadSources = !(values['same-source'] ?? false);

  if (command === 'fanout') {
    const subscribers = count(values.subscribers, 'subscribers', 1000, 1);
    return {
      command,
      output,
      options: {
        ...templates,
        label: values.label ?? `${subscribers} subscribers`,
        subscribers,
        updates: count(values.updates, 'updates', 10, 1),
        intervalMs: parseDuration(values.interval ?? '1s', 'interval'),
        workers,
        rampPerSecond: count(values.ramp, 'ramp', 5000),
        connectTimeoutMs,
        settleTimeoutMs: parseDuration(values['settle-timeout'] ?? '10s', 'settle-timeout'),
        pids,
        spreadSources,
        publishAfterConnected:
          values['publish-after-connected'] === undefined
            ? undefined
            : count(values['publish-after-connected'], 'publish-after-connected', 0),
      },
    };
  }
  if (command === 'storm') {
    const subscribers = count(values.subscribers, 'subscribers', 1000, 1);
    if (values['kill-pid'] === undefined)
      throw new LoadgenError(
        'invalid_option',
        '--kill-pid is required: the process of the first --target.',
      );
    if (templates.targets.length < 2)
      throw new LoadgenError('invalid_option', 'storm needs at least two --target instances.');
    return {
      command,
      output,
      options: {
        ...templates,
        label: values.label ?? `${subscribers} subscribers, storm`,
        subscribers,
        rampPerSecond: count(values.ramp, 'ramp', 5000),
        workers,
        connectTimeoutMs,
        spreadSources,
        killPid: count(values['kill-pid'], 'kill-pid', 0, 1),
        publishDelayMs: parseDuration(values['publish-delay'] ?? '1s', 'publish-delay'),
        settleTimeoutMs: parseDuration(values['settle-timeout'] ?? '30s', 'settle-timeout'),
        backoff: {
          ...CLIENT_BACKOFF,
          baseMs: parseDuration(
            values['backoff-base'] ?? `${CLIENT_BACKOFF.baseMs}ms`,
            'backoff-base',
          ),
        },
        pids,
      },
    };
  }
  if (command === 'publish') {
    const concurrency = count(values.concurrency, 'concurrency', 64, 1);
    return {
      command,
      output,
      options: {
        ...templates,
        label: values.label ?? `concurrency ${concurrency}`,
        concurrency,
        durationMs: parseDuration(values.duration ?? '10s', 'duration'),
        ratePerSecond: count(values.rate, 'rate', 0, 1),
        workers,
        pids,
      },
    };
  }
  const clients = count(values.clients, 'clients', 1000, 1);
  return {
    command,
    output,
    options: {
      ...templates,
      label: values.label ?? `${clients} clients at once`,
      clients,
      workers,
      connectTimeoutMs,
      pids,
      spreadSources,
    },
  };
}

/** A fresh environment key, so that no earlier update is replayed as an initial event. */
export function randomEnv(): string {
  return `loadgen_${randomBytes(6).toString('hex')}`;
}
