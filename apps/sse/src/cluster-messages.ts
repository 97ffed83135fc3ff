import type { MetricsSnapshot } from '@flagsmith-rt/server';

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

/** A worker got SIGTERM and asks whether the whole instance is stopping or only itself. */
export interface DrainQueryMessage {
  /** Message kind. */
  type: 'flagsmith-rt:drain-query';
}

/** The primary's answer to {@link DrainQueryMessage}. */
export interface DrainAnswerMessage {
  /** Message kind. */
  type: 'flagsmith-rt:drain-answer';
  /** `true`: the primary is not stopping, so only this worker is (the others keep serving). */
  alone: boolean;
}

/** Whether an IPC message is a {@link DrainQueryMessage}. */
export function isDrainQuery(message: unknown): message is DrainQueryMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === 'flagsmith-rt:drain-query'
  );
}

/** Whether an IPC message is a {@link DrainAnswerMessage}. */
export function isDrainAnswer(message: unknown): message is DrainAnswerMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === 'flagsmith-rt:drain-answer' &&
    typeof (message as { alone?: unknown }).alone === 'boolean'
  );
}

/** A worker asks the primary for the instance's combined metrics (a scrape arrived). */
export interface MetricsRequestMessage {
  /** Message kind. */
  type: 'flagsmith-rt:metrics-request';
  /** Matches the answer to the scrape. */
  id: string;
}

/** The primary asks every worker for its metrics snapshot. */
export interface MetricsCollectMessage {
  /** Message kind. */
  type: 'flagsmith-rt:metrics-collect';
  /** The collection round. */
  id: string;
}

/** A worker's answer to {@link MetricsCollectMessage}. */
export interface MetricsSnapshotMessage {
  /** Message kind. */
  type: 'flagsmith-rt:metrics-snapshot';
  /** The collection round. */
  id: string;
  /** The worker's `registry.getMetricsAsJSON()`. */
  metrics: MetricsSnapshot;
}

/** The primary's answer to {@link MetricsRequestMessage}: the combined exposition. */
export interface MetricsTextMessage {
  /** Message kind. */
  type: 'flagsmith-rt:metrics-text';
  /** The id of the request. */
  id: string;
  /** Prometheus text of all workers together. */
  text: string;
}

function isMessage<T>(type: string) {
  return (message: unknown): message is T =>
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === type &&
    typeof (message as { id?: unknown }).id === 'string';
}

/** Whether an IPC message is a {@link MetricsRequestMessage}. */
export const isMetricsRequest = isMessage<MetricsRequestMessage>('flagsmith-rt:metrics-request');
/** Whether an IPC message is a {@link MetricsCollectMessage}. */
export const isMetricsCollect = isMessage<MetricsCollectMessage>('flagsmith-rt:metrics-collect');
/** Whether an IPC message is a {@link MetricsSnapshotMessage}. */
export const isMetricsSnapshot = isMessage<MetricsSnapshotMessage>('flagsmith-rt:metrics-snapshot');
/** Whether an IPC message is a {@link MetricsTextMessage}. */
export const isMetricsText = isMessage<MetricsTextMessage>('flagsmith-rt:metrics-text');
