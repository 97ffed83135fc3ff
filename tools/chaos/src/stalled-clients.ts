import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { streamPath } from '@flagsmith-rt/protocol';

// A tiny receive window and a tiny MSS (like a congested mobile link): the service's socket
// buffers fill after a few hundred events instead of megabytes, so its slow-subscriber
// handling is exercised at realistic rates. Node cannot set these socket options; Python can.
const SCRIPT = String.raw`
import json, socket, sys
cfg = json.loads(sys.argv[1])
socks = []
for path in cfg['paths']:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 88)
    s.connect((cfg['host'], cfg['port']))
    s.sendall(('GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n' % (path, cfg['host'])).encode())
    socks.append(s)
print(json.dumps({'opened': len(socks)}), flush=True)
sys.stdin.readline()
closed = alive = ok = 0
for s in socks:
    s.setblocking(False)
    state, head = 'alive', b''
    try:
        while True:
            d = s.recv(65536)
            if not d:
                state = 'closed'
                break
            if len(head) < 12:
                head += d[:12]
    except BlockingIOError:
        pass
    except OSError:
        state = 'closed'
    ok += head.startswith(b'HTTP/1.1 200')
    closed += state == 'closed'
    alive += state == 'alive'
print(json.dumps({'closed': closed, 'alive': alive, 'ok200': ok}), flush=True)
sys.stdin.readline()
`;

/** What the stalled clients saw when checked. */
export interface StalledReport {
  /** Streams the service closed. */
  closed: number;
  /** Streams still open. */
  alive: number;
  /** Streams whose head (`200`) could still be read. */
  ok200: number;
}

/**
 * Subscribers that connect and then never read, in a `python3` child process (see above).
 */
export class StalledClients {
  private readonly child: ChildProcess;
  private readonly lines: Interface;
  private readonly queue: string[] = [];
  private waiter: ((line: string) => void) | undefined;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.lines = createInterface({ input: child.stdout! });
    this.lines.on('line', (line) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(line);
      } else this.queue.push(line);
    });
  }

  /** Opens one stalled stream per environment entry and resolves once all are connected. */
  static async open(port: number, environments: readonly string[]): Promise<StalledClients> {
    const config = JSON.stringify({
      host: '127.0.0.1',
      port,
      paths: environments.map((e) => streamPath(e)),
    });
    const child = spawn('python3', ['-c', SCRIPT, config], { stdio: ['pipe', 'pipe', 'inherit'] });
    const clients = new StalledClients(child);
    const opened = JSON.parse(await clients.nextLine()) as { opened: number };
    if (opened.opened !== environments.length) throw new Error('stalled clients did not all open');
    return clients;
  }

  /** Reads what is buffered on every socket and reports which the service closed. */
  async check(): Promise<StalledReport> {
    this.child.stdin!.write('check\n');
    return JSON.parse(await this.nextLine()) as StalledReport;
  }

  /** Ends the helper process. */
  close(): void {
    this.lines.close();
    this.child.kill('SIGKILL');
  }

  private nextLine(): Promise<string> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolveLine, reject) => {
      this.waiter = resolveLine;
      this.child.once('exit', (code) => reject(new Error(`python3 exited with ${code}`)));
    });
  }
}
