import { UPDATED_AT_FIELD } from './constants.js';
import { encodeUpdateData } from './frame.js';
import { fail, ok, type Result } from './result.js';
import {
  formatIsoTimestamp,
  MILLISECONDS_THRESHOLD,
  parseUpdatedAt,
  YEAR_10000_SECONDS,
} from './timestamp.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
const EVENT_ID_PATTERN = /^\d+(?:\.\d+)?$/;

/**
 * Parses a `queue-change` body: a JSON object with `updated_at` (see
 * {@link parseUpdatedAt}). Other fields are ignored. The caller enforces the
 * size limit ({@link MAX_PUBLISH_BODY_BYTES}) before reading the body.
 */
export function parsePublishBody(body: string | Uint8Array): Result<{ updatedAt: number }> {
  let text: string;
  try {
    text = typeof body === 'string' ? body : decoder.decode(body);
  } catch {
    return fail('invalid_json', 'The body is not valid UTF-8.');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail('invalid_json', 'The body is not valid JSON; send {"updated_at": <timestamp>}.');
  }
  return parsePublishPayload(parsed);
}

/** Validates an already decoded `queue-change` body. */
export function parsePublishPayload(parsed: unknown): Result<{ updatedAt: number }> {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail(
      'invalid_body',
      'The body must be a JSON object such as {"updated_at": 1735229888.76}.',
    );
  }
  if (!Object.hasOwn(parsed, UPDATED_AT_FIELD)) {
    return fail('missing_updated_at', 'The body has no "updated_at" field.');
  }
  const result = parseUpdatedAt((parsed as Record<string, unknown>)[UPDATED_AT_FIELD]);
  return result.ok ? ok({ updatedAt: result.value }) : result;
}

/**
 * The NATS message payload of an update: the same JSON as the event's `data:`
 * (`{"updated_at": 1735229888.76}`). A timestamp above `2e10` seconds (a date
 * after 2603) is written as an ISO-8601 string instead, since a number that
 * large is read as milliseconds. Either form decodes to the same double.
 */
export function encodeUpdateMessage(updatedAt: number): Uint8Array {
  if (updatedAt > MILLISECONDS_THRESHOLD) {
    return encoder.encode(`{"${UPDATED_AT_FIELD}": "${formatIsoTimestamp(updatedAt)}"}`);
  }
  return encoder.encode(encodeUpdateData(updatedAt));
}

/**
 * Reads the payload of a message on an environment's subject, written by the
 * service or by any publisher that writes to NATS directly. It accepts what a
 * `queue-change` body accepts (see {@link parsePublishPayload}): a JSON object
 * whose `updated_at` is a number of seconds (above `2e10`: milliseconds), a
 * string of digits read the same way, or an ISO-8601 date-time (naive means
 * UTC). Other fields are ignored.
 */
export function decodeUpdateMessage(payload: Uint8Array): Result<number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(payload));
  } catch {
    return fail('invalid_json', 'The update message is not UTF-8 JSON.');
  }
  const result = parsePublishPayload(parsed);
  return result.ok ? ok(result.value.updatedAt) : result;
}

/**
 * Reads a `Last-Event-ID` header or `?lastEventId=` value: the timestamp of
 * the last update the client received. Returns an error for anything that is
 * not a positive decimal number; callers then ignore it.
 */
export function parseEventId(value: string | undefined | null): Result<number> {
  const text = value?.trim() ?? '';
  if (!EVENT_ID_PATTERN.test(text)) {
    return fail('invalid_event_id', 'The last event id is not a timestamp.');
  }
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    return fail('invalid_event_id', 'The last event id is not a positive timestamp.');
  }
  return ok(seconds);
}

/**
 * Reads the `data:` of an `environment_updated` event as the service sends it:
 * `{"updated_at": <seconds>}` with a plain number (PROTOCOL.md). Stricter and
 * smaller than {@link decodeUpdateMessage}, which also takes what direct NATS
 * publishers may write: browsers ship this one, so it leaves the ISO parser out.
 */
export function decodeUpdateData(data: string): Result<number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return fail('invalid_json', 'The event data is not JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail('invalid_body', 'The event data is not a JSON object.');
  }
  const value = (parsed as Record<string, unknown>)[UPDATED_AT_FIELD];
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    return fail('invalid_updated_at', 'The event data has no positive numeric "updated_at".');
  }
  if (value >= YEAR_10000_SECONDS) {
    return fail('invalid_updated_at', 'updated_at is past the year 9999.');
  }
  return ok(value);
}
