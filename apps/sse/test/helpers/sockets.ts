import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** A TCP socket of this network namespace, from `/proc/net/tcp` and `/proc/net/tcp6`. */
export interface KernelSocket {
  /** The socket's inode, as in `/proc/<pid>/fd/N -> socket:[inode]`. */
  inode: string;
  localPort: number;
  remotePort: number;
  /** `LISTEN` or `ESTABLISHED`; other states as their hex code. */
  state: string;
}

const STATES: Record<string, string> = { '01': 'ESTABLISHED', '0A': 'LISTEN' };

/** Every TCP socket the kernel lists (Linux only). */
export function kernelSockets(): KernelSocket[] {
  const sockets: KernelSocket[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, remote, state, inode] = [fields[1], fields[2], fields[3], fields[9]];
      if (local === undefined || remote === undefined || state === undefined || !inode) continue;
      sockets.push({
        inode,
        localPort: Number.parseInt(local.split(':')[1] ?? '', 16),
        remotePort: Number.parseInt(remote.split(':')[1] ?? '', 16),
        state: STATES[state] ?? state,
      });
    }
  }
  return sockets;
}

/** The socket inodes a process holds open (its own processes only; empty once it exited). */
export function socketInodesOf(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1] !== undefined) inodes.add(m[1]);
    } catch {
      // The descriptor closed while we looked.
    }
  }
  return inodes;
}

/** The processes of `pids` holding a listening socket on `port`. */
export function listenersOf(port: number, pids: readonly number[]): number[] {
  const listening = kernelSockets().filter((s) => s.state === 'LISTEN' && s.localPort === port);
  return pids.filter((pid) => {
    const held = socketInodesOf(pid);
    return listening.some((s) => held.has(s.inode));
  });
}

/**
 * Which of `pids` holds the server side of the connection from local port `clientPort` to
 * `serverPort`; `undefined` when none does.
 */
export function ownerOfConnection(
  serverPort: number,
  clientPort: number,
  pids: readonly number[],
): number | undefined {
  const serverSide = kernelSockets().find(
    (s) => s.state === 'ESTABLISHED' && s.localPort === serverPort && s.remotePort === clientPort,
  );
  if (serverSide === undefined) return undefined;
  return pids.find((pid) => socketInodesOf(pid).has(serverSide.inode));
}
