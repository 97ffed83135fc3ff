import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { describe, expect, test } from 'vitest';
import {
  encodeRetryFrame,
  KEEPALIVE_FRAME_TEXT,
  parseEventId,
  parseUpdatedAt,
  UPDATE_EVENT,
  updateFrameText,
} from '../src/index.js';

/** Feeds SSE text to a spec-following parser and collects what a client would see. */
function parse(stream: string) {
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const errors: Error[] = [];
  const parser = createParser({
    onEvent: (event) => events.push(event),
    onComment: (comment) => comments.push(comment),
    onRetry: (retry) => retries.push(retry),
    onError: (error) => errors.push(error),
  });
  parser.feed(stream);
  return { events, comments, retries, errors };
}

describe('frames read back by eventsource-parser', () => {
  test('an update gives the event name and the same timestamp', () => {
    const { events, errors } = parse(updateFrameText(1735229888.76));
    expect(errors).toEqual([]);
    expect(events).toHaveLength(1);
    expect(events[0]?.event).toBe(UPDATE_EVENT);
    expect(JSON.parse(events[0]!.data)).toEqual({ updated_at: 1735229888.76 });
    expect(events[0]?.id).toBeUndefined();
  });

  test('an update with id gives the id that parseEventId reads back', () => {
    const { events } = parse(updateFrameText(1735229888, { id: true }));
    expect(events[0]?.id).toBe('1735229888.0');
    expect(parseEventId(events[0]?.id)).toEqual({ ok: true, value: 1735229888 });
  });

  test('the data of an update is a valid publish value for parseUpdatedAt', () => {
    const { events } = parse(updateFrameText(1673546802.02806));
    expect(parseUpdatedAt(JSON.parse(events[0]!.data).updated_at)).toEqual({
      ok: true,
      value: 1673546802.02806,
    });
  });

  test('a keep-alive is a comment, not an event', () => {
    const { events, comments } = parse(KEEPALIVE_FRAME_TEXT);
    expect(events).toEqual([]);
    expect(comments.map((c) => c.trim())).toEqual(['ping']);
  });

  test('a retry block sets the delay and dispatches no event', () => {
    const { events, retries } = parse(new TextDecoder().decode(encodeRetryFrame(2500)));
    expect(events).toEqual([]);
    expect(retries).toEqual([2500]);
  });

  test('a stream of retry, keep-alive and two updates gives exactly two events in order', () => {
    const stream =
      new TextDecoder().decode(encodeRetryFrame(1000)) +
      updateFrameText(1735229888.76, { id: true }) +
      KEEPALIVE_FRAME_TEXT +
      updateFrameText(1735229890);
    const { events } = parse(stream);
    expect(events.map((e) => JSON.parse(e.data).updated_at)).toEqual([1735229888.76, 1735229890]);
  });
});
