/** The IPC message a worker sends its primary once it listens. */
export interface WorkerListeningMessage {
  /** Message kind. */
  type: 'flagsmith-rt:listening';
  /** The port the worker listens on (shared by all workers). */
  port: number;
  /** The URL of the `listening` line. */
  url: string;
  /** The worker's broker kind. */
  broker: string;
}

/** The environment variable telling a worker its slot (0 … SSE_WORKERS-1), for logs. */
export const WORKER_SLOT_VARIABLE = 'SSE_WORKER_SLOT';

/** Whether an IPC message is a {@link WorkerListeningMessage}. */
export function isListeningMessage(message: unknown): message is WorkerListeningMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === 'flagsmith-rt:listening' &&
    typeof (message as { port?: unknown }).port === 'number'
  );
}
