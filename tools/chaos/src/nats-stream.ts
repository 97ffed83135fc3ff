import { STREAM_SETTINGS } from '@flagsmith-rt/protocol';
import { jetstreamManager } from '@nats-io/jetstream';
import type { ConnectionOptions } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

/** The stream's counters, read straight from NATS. */
export interface StreamState {
  /** Sequence of the last message ever stored (grows with every accepted publish). */
  lastSeq: number;
  /** Messages kept now. */
  messages: number;
  /** Distinct subjects kept now. */
  subjects: number;
}

/** Reads the state of `environments-stream` (to prove nothing was published). */
export async function readStreamState(
  servers: string[],
  options: Omit<ConnectionOptions, 'servers'> = {},
): Promise<StreamState> {
  const nc = await connect({ ...options, servers, timeout: 5_000, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    const info = await jsm.streams.info(STREAM_SETTINGS.name);
    return {
      lastSeq: info.state.last_seq,
      messages: info.state.messages,
      subjects: info.state.num_subjects ?? 0,
    };
  } finally {
    await nc.close();
  }
}
