/**
 * A minimal acknowledged `queue-change` handler: bare node:http plus one
 * JetStream publish per request (acks matched on one reply subscription), answered when JetStream
 * has stored the message (file storage). No routing, no validation, no
 * `Nats-Msg-Id` or expected-sequence headers. `pnpm bench` runs it next to
 * ours so target 3 is compared with what an ack per request costs on the same
 * machine in the same run.
 *
 * Run as `node dist/floor-server.js` with `NATS_URL` set (and optionally
 * `ACK_TIMEOUT_MS`). It listens on a free port of 127.0.0.1 and prints
 * `bench-floor listening http://127.0.0.1:PORT` once it is ready.
 *
 * Acknowledgements are matched the way `packages/server`'s `AckedPublisher`
 * does it (one wildcard reply subscription, a Map, one sweep timer), not with
 * `js.publish`, which arms a timer and builds an error with a stack trace per
 * call.
 */
import { createServer, type ServerResponse } from 'node:http';
import { createInbox, type Msg } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

/** The stream the floor server writes to, apart from ours. */
const STREAM = {
  name: 'bench-floor',
  subjects: ['bench.floor.>'],
  storage: 'file',
  retention: 'limits',
  discard: 'old',
  max_msgs_per_subject: 1,
  num_replicas: 1,
};
/** JetStream's err_code for "stream name already in use" (another config): reused as is. */
const STREAM_NAME_IN_USE = 10058;
/** Subjects written round-robin, like environments. */
const SUBJECTS = 100;

const OK = Buffer.from('{"ok":true}');
const REFUSED = Buffer.from('{"ok":false,"error":"not_acknowledged"}');
const TIMED_OUT = Buffer.from('{"ok":false,"error":"ack_timeout"}');

const natsUrl = process.env.NATS_URL;
if (!natsUrl) {
  console.error('bench-floor: set NATS_URL');
  process.exit(2);
}
const timeoutMs = Number(process.env.ACK_TIMEOUT_MS ?? 5000);

const nc = await connect({ servers: natsUrl, noAsyncTraces: true });

const created = JSON.parse(
  (
    await nc.request(`$JS.API.STREAM.CREATE.${STREAM.name}`, JSON.stringify(STREAM), {
      timeout: 5000,
    })
  ).string(),
) as { error?: { err_code?: number; description?: string } };
if (created.error && created.error.err_code !== STREAM_NAME_IN_USE) {
  console.error(`bench-floor: cannot create stream ${STREAM.name}: ${created.error.description}`);
  process.exit(1);
}

interface Pending {
  readonly res: ServerResponse;
  readonly deadline: number;
}
const pending = new Map<number, Pending>();
const prefix = `${createInbox()}.`;
let next = 0;

const answer = (res: ServerResponse, status: number, body: Buffer) => {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
};

nc.subscribe(`${prefix}*`, {
  callback: (error, msg: Msg) => {
    if (error !== null) return;
    const id = Number(msg.subject.slice(prefix.length));
    const p = pending.get(id);
    if (p === undefined) return;
    pending.delete(id);
    // No stream on the subject: NATS answers an empty 503 "no responders".
    if (msg.data.length === 0 && msg.headers?.code === 503) return answer(p.res, 503, REFUSED);
    let ack: { seq?: unknown; error?: unknown };
    try {
      ack = JSON.parse(msg.string()) as typeof ack;
    } catch {
      return answer(p.res, 503, REFUSED);
    }
    if (ack.error === undefined && typeof ack.seq === 'number') answer(p.res, 200, OK);
    else answer(p.res, 503, REFUSED);
  },
});

// Entries are in publish order and share one timeout: stop at the first still in time.
setInterval(
  () => {
    const now = performance.now();
    for (const [id, p] of pending) {
      if (p.deadline > now) break;
      pending.delete(id);
      answer(p.res, 504, TIMED_OUT);
    }
  },
  Math.min(250, Math.max(10, timeoutMs / 4)),
).unref();

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const id = next++;
    pending.set(id, { res, deadline: performance.now() + timeoutMs });
    try {
      nc.publish(`bench.floor.${id % SUBJECTS}`, body, { reply: prefix + id });
    } catch {
      // The connection is closed or draining.
      pending.delete(id);
      answer(res, 503, REFUSED);
    }
  });
});
// As ours and nginx: idle keep-alive connections of the load generator stay open, backlog 4096.
server.keepAliveTimeout = 60_000;
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(`bench-floor listening http://127.0.0.1:${port}`);
});

const stop = () => {
  server.close();
  void nc.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
