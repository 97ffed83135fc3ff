import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

/** What the numbers were measured on. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  natsServer: string;
  nginx: string;
  nchan: string;
  kernel: string;
  openFilesLimit: string;
  /** The Node `apps/sse` ran on, when not the load generator's (`pnpm bench --server-node`). */
  serverNode?: string;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return 'unknown';
  // Some tools (nginx -v) print their version on stderr.
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

/** Reads the machine description (CPU, cores, versions). */
export function machineInfo(
  natsBinary: string,
  nginxBinary: string,
  serverNode?: string,
): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return {
    cpuModel: model.trim(),
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    natsServer: run(natsBinary, ['--version']),
    nginx: run(nginxBinary, ['-v']).replace(/^nginx version: /, ''),
    nchan: run('dpkg-query', ['-W', '-f', '$' + '{Version}', 'libnginx-mod-nchan']),
    kernel: run('uname', ['-r']),
    openFilesLimit: run('sh', ['-c', 'ulimit -n']),
    ...(serverNode ? { serverNode: run(serverNode, ['--version']) } : {}),
  };
}

/** `uptime`-style load averages now. */
export function loadNow(): string {
  const [a, b, c] = loadavg();
  return `load average ${a!.toFixed(2)}, ${b!.toFixed(2)}, ${c!.toFixed(2)} (${new Date().toISOString()})`;
}
