import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LoadgenError } from '../errors.js';

/** A server process the benchmark started. */
export interface RunningServer {
  name: string;
  pid: number;
  /** Base URL (HTTP) or `nats://` URL. */
  url: string;
  port: number;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and removes its temp dir. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Resolves once `port` accepts a TCP connection, polling for `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new LoadgenError(
        'server_start_failed',
        `nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopper(child: ChildProcess, dir: string | undefined): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}

/** Waits for a line matching `pattern` on the child's stdout or stderr. */
function waitForOutput(
  child: ChildProcess,
  name: string,
  pattern: RegExp,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      reject(
        new LoadgenError(
          'server_start_failed',
          `${name} did not start within ${timeoutMs} ms:\n${seen.slice(-2000)}`,
        ),
      );
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const m = pattern.exec(seen);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(m[0]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        new LoadgenError(
          'server_start_failed',
          `${name} exited with ${code}:\n${seen.slice(-2000)}`,
        ),
      );
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new LoadgenError('server_start_failed', `${name} could not start: ${error.message}`, {
          cause: error,
        }),
      );
    });
  });
}

/**
 * Finds an executable: `$envVariable` if set, else `name` on PATH or in
 * /usr/sbin, /usr/bin, /usr/local/bin.
 */
export function findBinary(name: string, envVariable: string): string {
  const configured = process.env[envVariable];
  if (configured) return configured;
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/sbin',
    '/usr/bin',
    '/usr/local/bin',
  ];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  throw new LoadgenError(
    'server_start_failed',
    `${name} not found on PATH; install it or set ${envVariable}.`,
  );
}

/** Starts `nats-server -js` with a temporary file store. */
export async function startNats(binary: string): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'loadgen-nats-'));
  const port = await freePort();
  const child = spawn(binary, ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitForOutput(child, 'nats-server', /Server is ready/, 15_000);
  return {
    name: 'nats-server',
    pid: child.pid!,
    url: `nats://127.0.0.1:${port}`,
    port,
    stop: stopper(child, dir),
  };
}

/** Starts one `apps/sse` process (`node apps/sse/dist/main.js`), with NATS if `natsUrl` is given. */
export async function startSse(options: {
  main: string;
  /** Node binary. @defaultValue this process's */
  node?: string | undefined;
  token: string;
  natsUrl?: string;
  nodeArgs?: string[];
  extraEnv?: Record<string, string>;
}): Promise<RunningServer> {
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PORT: String(port),
    HOST: '127.0.0.1',
    SSE_AUTHENTICATION_TOKEN: options.token,
    LOG_LEVEL: 'warn',
    ...options.extraEnv,
  };
  if (options.natsUrl) env.NATS_URL = options.natsUrl;
  else delete env.NATS_URL;
  // The "listening" line is logged at info level: ask for it, then filter nothing else.
  env.LOG_LEVEL = 'info';
  const child = spawn(
    options.node ?? process.execPath,
    [...(options.nodeArgs ?? []), options.main],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  await waitForOutput(child, 'apps/sse', /"msg":"listening"/, 20_000);
  return {
    name: 'apps/sse',
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    port,
    stop: stopper(child, undefined),
  };
}

/**
 * The bare server's script: reads each request body to the end and answers
 * `200` with a small JSON body, nothing else (no routing, no validation, no
 * NATS). Keep-alive is node:http's default; the timeout is raised so idle
 * load generator connections are not closed between runs.
 */
export const BARE_HTTP_SCRIPT = `import { createServer } from 'node:http';
const body = Buffer.from('{"ok":true}');
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('bare-http listening'));
`;

/**
 * Starts a bare node:http handler ({@link BARE_HTTP_SCRIPT}) on 127.0.0.1:
 * the floor of what any Node HTTP server can answer on this machine with the
 * load generator on the same cores.
 */
export async function startBareHttp(): Promise<RunningServer> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--input-type=module', '-e', BARE_HTTP_SCRIPT], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitForOutput(child, 'bare node:http', /bare-http listening/, 10_000);
  return {
    name: 'bare node:http',
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    port,
    stop: stopper(child, undefined),
  };
}

/**
 * The built floor server (`dist/floor-server.js`, from `src/bench/floor-server.ts`),
 * whether this code runs bundled in `dist/` or from `src/bench/` (tests).
 */
export function floorServerPath(): string {
  for (const relative of ['./floor-server.js', '../../dist/floor-server.js']) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new LoadgenError(
    'server_start_failed',
    'dist/floor-server.js is missing: build apps/loadgen first (pnpm build)',
  );
}

/**
 * Starts the bare node:http + JetStream handler (`src/bench/floor-server.ts`)
 * on a free port of 127.0.0.1, writing to the stream `bench-floor` of the
 * nats-server at `natsUrl`: one file-storage acknowledgement per request and
 * nothing else, a minimal handler that does what target 3 asks.
 */
export async function startBareJetStream(natsUrl: string): Promise<RunningServer> {
  const child = spawn(process.execPath, [floorServerPath()], {
    env: { ...process.env, NATS_URL: natsUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = await waitForOutput(
    child,
    'bare node:http + JetStream',
    /bench-floor listening http:\/\/127\.0\.0\.1:\d+/,
    15_000,
  );
  const url = ready.slice(ready.indexOf('http://'));
  return {
    name: 'bare node:http + JetStream',
    pid: child.pid!,
    url,
    port: Number(url.slice(url.lastIndexOf(':') + 1)),
    stop: stopper(child, undefined),
  };
}

/**
 * nginx + nchan configuration: subscribers at /sub/{env}, publishers at /pub/{env}.
 * One worker runs as a single process (`master_process off`); several share the
 * port through `reuseport`, which spreads connections evenly, as each worker
 * holds at most 20,000 sockets. The listen backlog is 4096, as `apps/sse`'s.
 */
export function nchanConfig(
  dir: string,
  port: number,
  workers = 1,
  workerConnections = 25_000,
): string {
  return `load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
daemon off;
master_process ${workers > 1 ? 'on' : 'off'};
worker_processes ${workers};
worker_rlimit_nofile 20000;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections ${workerConnections}; multi_accept on; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} backlog=4096${workers > 1 ? ' reuseport' : ''};
    location ~ ^/sub/([A-Za-z0-9_-]+)$ {
      nchan_subscriber eventsource;
      nchan_channel_id $1;
    }
    location ~ ^/pub/([A-Za-z0-9_-]+)$ {
      nchan_publisher;
      nchan_channel_id $1;
      nchan_message_buffer_length 1;
      nchan_message_timeout 1h;
    }
  }
}
`;
}

/** Starts nginx with nchan on 127.0.0.1 (one process, in the foreground). */
export async function startNchan(binary: string, workers = 1): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'loadgen-nchan-'));
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), nchanConfig(dir, port, workers));
  const child = spawn(
    binary,
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.resume();
  child.stderr?.resume();
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (e) =>
      reject(
        new LoadgenError('server_start_failed', `nginx could not start: ${e.message}`, {
          cause: e,
        }),
      ),
    );
    child.once('exit', (code) =>
      reject(
        new LoadgenError('server_start_failed', `nginx exited with ${code} (see ${dir}/error.log)`),
      ),
    );
  });
  failed.catch(() => {});
  await Promise.race([waitForPort(port, 10_000), failed]);
  return {
    name: 'nginx+nchan',
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    port,
    stop: stopper(child, dir),
  };
}
