import { createParser, type EventSourceMessage } from 'eventsource-parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSseParser, type SseMessage } from '../src/sse-parser.js';

interface Read {
  messages: SseMessage[];
  retries: number[];
  ignored: string[];
  overflowed: boolean;
}

/** Feeds `chunks` to our parser through a streaming TextDecoder, as the connection does. */
function readWithOurs(chunks: Uint8Array[] | string[], maxBufferSize = 65_536): Read {
  const read: Read = { messages: [], retries: [], ignored: [], overflowed: false };
  const feed = createSseParser(
    {
      onMessage: (m) => read.messages.push(m),
      onRetry: (ms) => read.retries.push(ms),
      onIgnoredLine: (line) => read.ignored.push(line),
      onOverflow: () => {
        read.overflowed = true;
      },
    },
    maxBufferSize,
  );
  const decoder = new TextDecoder();
  for (const chunk of chunks) {
    feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
  }
  return read;
}

function readWithEventsourceParser(chunks: string[]): Pick<Read, 'messages' | 'retries'> {
  const messages: SseMessage[] = [];
  const retries: number[] = [];
  const parser = createParser({
    onEvent: ({ id, event, data }: EventSourceMessage) => messages.push({ id, event, data }),
    onRetry: (ms) => retries.push(ms),
  });
  for (const chunk of chunks) parser.feed(chunk);
  return { messages, retries };
}

const message = (data: string, event?: string, id?: string): SseMessage => ({ id, event, data });

describe('createSseParser', () => {
  it('reads the frames the service writes, keep-alives included', () => {
    const read = readWithOurs([
      'retry: 2000\n\n',
      ': ping\n\n',
      'event: environment_updated\ndata: {"updated_at": 1735229888.76}\nid: 1735229888.76\n\n',
    ]);
    expect(read.messages).toEqual([
      message('{"updated_at": 1735229888.76}', 'environment_updated', '1735229888.76'),
    ]);
    expect(read.retries).toEqual([2000]);
    expect(read.ignored).toEqual([]);
  });

  it('follows the standard: CRLF, LF and CR line ends, one optional space, multi-line data', () => {
    // [spec] The examples of "interpreting an event stream", with every kind of line end.
    const read = readWithOurs([
      'data: YHOO\r\ndata: +2\rdata: 10\n\n',
      'data:first\n\ndata\n\ndata:\n\n',
      ':comment\ndata:  two spaces\n\n',
      'event: a\n\n', // no data: nothing dispatched, and the type does not leak
      'data: b\n\n',
    ]);
    expect(read.messages).toEqual([
      message('YHOO\n+2\n10'),
      message('first'),
      message(''),
      message(''),
      message(' two spaces'),
      message('b'),
    ]);
  });

  it('treats a CRLF cut between two chunks as one line end', () => {
    const read = readWithOurs(['data: x\r', '\n\r', '\n']);
    expect(read.messages).toEqual([message('x')]);
  });

  it('drops a leading BOM (through TextDecoder) and reads UTF-8 cut inside a character', () => {
    const bytes = new TextEncoder().encode('\uFEFFdata: é€\n\n');
    const read = readWithOurs([bytes.slice(0, 4), bytes.slice(4, 10), bytes.slice(10)]);
    expect(read.messages).toEqual([message('é€')]);
  });

  it('reports unknown fields and a non-numeric retry, and ignores an id with NUL', () => {
    const read = readWithOurs(['unknown: 1\nretry: soon\nid: a\0b\ndata: x\n\n']);
    expect(read.ignored).toEqual(['unknown: 1', 'retry: soon']);
    expect(read.retries).toEqual([]);
    expect(read.messages).toEqual([message('x')]);
  });

  it('stops once an unfinished message outgrows maxBufferSize', () => {
    const read = readWithOurs(
      [`data: ${'x'.repeat(600)}`, 'x'.repeat(600), '\n\ndata: y\n\n'],
      1024,
    );
    expect(read.overflowed).toBe(true);
    expect(read.messages).toEqual([]);
  });

  it('reads any stream, cut anywhere, as eventsource-parser does', () => {
    const line = fc.oneof(
      fc.constantFrom('', ':', ': ping', 'data', 'data:', 'event', 'id', 'id:', 'retry: 5'),
      fc
        .tuple(
          fc.constantFrom('data', 'event', 'id', 'retry'),
          fc.constantFrom(':', ': ', ':  '),
          fc.string({ unit: fc.constantFrom('a', '1', ' ', ':', 'é', '{', '"') }),
        )
        .map(([field, colon, value]) => `${field}${colon}${value}`),
    );
    const stream = fc
      .array(fc.tuple(line, fc.constantFrom('\n', '\r\n', '\r')), { maxLength: 30 })
      .map((lines) => lines.map(([text, end]) => text + end).join(''));
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 6 }), (text, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points].map((start, i) =>
          text.slice(start, points[i] ?? text.length),
        );
        const ours = readWithOurs(chunks);
        expect({ messages: ours.messages, retries: ours.retries }).toEqual(
          readWithEventsourceParser(chunks),
        );
      }),
      { numRuns: 2000 },
    );
  });
});
