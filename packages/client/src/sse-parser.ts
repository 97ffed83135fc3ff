/** One dispatched SSE message. */
export interface SseMessage {
  /** The `id:` field of this message, if it had one (`''` clears the last event id). */
  id: string | undefined;
  /** The `event:` field, or `undefined` for the default type (`message`). */
  event: string | undefined;
  /** The `data:` lines, joined with `\n`. */
  data: string;
}

/** Where {@link createSseParser} sends what it reads. */
export interface SseHandlers {
  /** A complete message (at least one `data:` line, then a blank line). */
  onMessage: (message: SseMessage) => void;
  /** A valid `retry:` field, in milliseconds. */
  onRetry: (ms: number) => void;
  /** A line that was ignored: an unknown field or a `retry:` that is not a number. */
  onIgnoredLine: (line: string) => void;
  /** The unfinished message outgrew `maxBufferSize`; the parser stops reading. */
  onOverflow: () => void;
}

/**
 * An SSE stream parser, as the HTML standard's "interpreting an event stream"
 * describes it, for text already decoded (`TextDecoder` drops the leading BOM).
 * Returns the function to feed each decoded chunk to.
 *
 * The client keeps its own, rather than `eventsource-parser`, for size: the
 * whole browser build has a 4 KiB budget and this parser is a fifth of that
 * library's size.
 */
export function createSseParser(
  handlers: SseHandlers,
  maxBufferSize: number,
): (chunk: string) => void {
  let unfinished = '';
  let data: string | undefined;
  let event: string | undefined;
  let id: string | undefined;
  let stopped = false;

  const readLine = (line: string): void => {
    // [spec] A blank line dispatches the message, if it has data, and starts the next one.
    if (line === '') {
      if (data !== undefined) handlers.onMessage({ id, event, data });
      data = event = id = undefined;
      return;
    }
    const colon = line.indexOf(':');
    // [spec] A line that starts with a colon is a comment (keep-alives are).
    if (colon === 0) return;
    const field = colon < 0 ? line : line.slice(0, colon);
    // [spec] The value is what follows the colon, less one leading space.
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
    else if (field === 'event') event = value || undefined;
    // [spec] An id containing NUL is ignored.
    else if (field === 'id' && !value.includes('\0')) id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) handlers.onRetry(Number(value));
    else if (field !== 'id') handlers.onIgnoredLine(line);
  };

  return (chunk) => {
    if (stopped) return;
    const text = unfinished + chunk;
    // [spec] A line ends with CRLF, LF or CR. A CR that ends the text may be the first half
    // of a CRLF, so it waits for the next chunk.
    const ends = /\r\n|\r(?!$)|\n/g;
    let start = 0;
    for (let end = ends.exec(text); end; end = ends.exec(text)) {
      readLine(text.slice(start, end.index));
      start = ends.lastIndex;
    }
    unfinished = text.slice(start);
    if (unfinished.length + (data?.length ?? 0) > maxBufferSize) {
      stopped = true;
      handlers.onOverflow();
    }
  };
}
