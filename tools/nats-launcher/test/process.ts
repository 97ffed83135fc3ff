import { readFileSync } from 'node:fs';

/**
 * Whether no live process has this PID. A zombie (exited, not yet reaped by its new parent)
 * counts as gone: it holds no port, file or CPU.
 */
export function isProcessGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
