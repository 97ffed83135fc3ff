import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LoadgenError } from './errors.js';
import type { WorkerCommand, WorkerReport } from './ipc.js';

/** The built worker script: `dist/worker.js` whether this runs from `dist/` or `src/` (tests). */
export function workerScriptPath(): string {
  const path = fileURLToPath(new URL('../dist/worker.js', import.meta.url));
  if (!existsSync(path)) {
    throw new LoadgenError(
      'worker_failed',
      `${path} is missing: run "pnpm --filter @flagsmith-rt/loadgen build" first.`,
    );
  }
  return path;
}

/** One forked worker and the last report of each kind it sent. */
export class WorkerHandle {
  readonly last = new Map<WorkerReport['type'], WorkerReport>();
  private readonly waiters: Array<{
    type: WorkerReport['type'];
    resolve: (r: WorkerReport) => void;
  }> = [];
  private exited = false;
  private fault: string | undefined;

  constructor(
    readonly index: number,
    readonly child: ChildProcess,
  ) {
    child.on('message', (report: WorkerReport) => {
      if (report.type === 'fault') this.fault = report.message;
      this.last.set(report.type, report);
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const w = this.waiters[i]!;
        if (w.type === report.type) {
          this.waiters.splice(i, 1);
          w.resolve(report);
        }
      }
    });
    child.on('exit', () => {
      this.exited = true;
    });
  }

  /** Sends a command. */
  send(command: WorkerCommand): void {
    if (!this.exited) this.child.send(command);
  }

  /** Resolves with the next report of `type`; rejects on exit, fault or timeout. */
  next<T extends WorkerReport['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<WorkerReport, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new LoadgenError(
            'timeout',
            `worker ${this.index} sent no "${type}" within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const onExit = () => {
        cleanup();
        reject(
          new LoadgenError(
            'worker_failed',
            `worker ${this.index} exited${this.fault ? `: ${this.fault}` : ''}`,
          ),
        );
      };
      const waiter = {
        type,
        resolve: (r: WorkerReport) => {
          cleanup();
          resolve(r as Extract<WorkerReport, { type: T }>);
        },
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        const at = this.waiters.indexOf(waiter);
        if (at !== -1) this.waiters.splice(at, 1);
      };
      this.child.once('exit', onExit);
      this.waiters.push(waiter);
    });
  }

  /** Sends a command and resolves with the report of `type` it answers with. */
  ask<T extends WorkerReport['type']>(
    command: WorkerCommand,
    type: T,
    timeoutMs: number,
  ): Promise<Extract<WorkerReport, { type: T }>> {
    const answer = this.next(type, timeoutMs);
    this.send(command);
    return answer;
  }

  /** Asks the worker to close and waits for it to exit (killing it after `timeoutMs`). */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send({ type: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

/** Forks `count` workers (IPC with structured clone, so typed arrays pass intact). */
export function forkWorkers(count: number): WorkerHandle[] {
  const script = workerScriptPath();
  const handles: WorkerHandle[] = [];
  for (let i = 0; i < count; i++) {
    const child = fork(script, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [],
    });
    handles.push(new WorkerHandle(i, child));
  }
  return handles;
}

/** Closes every worker. */
export async function closeWorkers(handles: readonly WorkerHandle[]): Promise<void> {
  await Promise.all(handles.map((h) => h.close()));
}
