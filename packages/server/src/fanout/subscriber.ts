import { LAST_CHUNK } from '@flagsmith-rt/protocol';

/**
 * Where a subscriber's bytes go: the raw TCP socket of an HTTP/1.x request
 * (a `net.Socket` fits as is) or an HTTP/2 stream (`Http2Stream` fits too).
 */
export interface StreamSink {
  /** Writes one frame; `false` means the kernel and user buffers are full: wait for `drain`. */
  write(chunk: Uint8Array): boolean;
  /** Ends the stream after flushing. */
  end(): void;
  /** Writes `chunk` (a chunked body's last-chunk), then ends the stream after flushing. */
  end(chunk: Uint8Array): void;
  /** Closes the connection at once. */
  destroy(): void;
  /** Bytes queued in user space, not yet handed to the kernel. */
  readonly writableLength: number;
  /** `true` once closed. */
  readonly destroyed: boolean;
  on(event: 'drain' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * A stream whose response has not started yet: the hub opens it with its
 * first frames (`retry:`, initial event), written together with the head.
 */
export interface PendingStream {
  /** The body is HTTP/1.1 chunked: every frame goes in its own chunk. */
  readonly chunked: boolean;
  /**
   * Writes the response head and `first` in a single write; `now` is the
   * `Date`. Returns the sink, or `undefined` if the client already left.
   */
  open(first: readonly Uint8Array[], now: number): StreamSink | undefined;
}

/** What a subscriber wrote last, for attributing write errors. */
export type WriteKind = 'data' | 'keepalive';

/**
 * Why a subscriber is being closed: `slow` (read nothing for the timeout),
 * `aged` (reached its maximum age), `drained` (the instance is shutting down).
 */
export type Ending = 'slow' | 'aged' | 'drained';

/**
 * One open stream. A few plain fields, so memory per subscriber stays fixed
 * whatever the update rate: while the socket is blocked only the newest
 * undelivered timestamp is remembered.
 */
export class Subscriber {
  /** The stream's socket. */
  readonly sink: StreamSink;
  /** The validated environment key. */
  readonly environment: string;
  /** The body is HTTP/1.1 chunked: write the chunked frames and end with the last-chunk. */
  readonly chunked: boolean;
  /** When something was last written, epoch ms (drives keep-alives). */
  lastWriteAt: number;
  /** What was written last. */
  lastWriteKind: WriteKind = 'data';
  /** Newest timestamp not written because the socket was blocked; 0 for none. */
  pendingAt = 0;
  /** When the socket stopped taking writes, epoch ms; 0 while it takes them. */
  blockedSince = 0;
  /** Set once the subscriber is being closed, so nothing more is written and it is counted once. */
  ending: Ending | undefined = undefined;
  /** When the stream is ended for its age, epoch ms; 0 for never. */
  ageAt = 0;
  /** An aged-out stream still open at this time is destroyed, epoch ms; 0 for none. */
  graceAt = 0;

  constructor(sink: StreamSink, environment: string, now: number, chunked: boolean) {
    this.sink = sink;
    this.environment = environment;
    this.chunked = chunked;
    this.lastWriteAt = now;
  }
}

/** Ends a stream gracefully: a chunked body with its last-chunk, so the client sees a complete response. */
export function endStream(subscriber: Subscriber): void {
  if (subscriber.chunked) subscriber.sink.end(LAST_CHUNK);
  else subscriber.sink.end();
}
