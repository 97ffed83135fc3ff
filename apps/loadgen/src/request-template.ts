import { requestBytes } from './http-connection.js';
import { type Endpoint, parseEndpoint, renderTemplate } from './target.js';

/** A literal piece of a template, or a `{name}` slot. */
export type TemplatePart = { literal: string } | { slot: string };

const PLACEHOLDER = /\{(\w+)\}/g;
const ASCII = /^[\x00-\x7f]*$/;
/** Stands for `{ts}` while the URL is parsed once; letters and digits only, so URL parsing leaves it alone. */
const TS_MARK = 'loadgentsmark7f3a';

/** Splits a template into literals and `{name}` slots, as {@link renderTemplate} reads it. */
export function compileTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let at = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m.index > at) parts.push({ literal: template.slice(at, m.index) });
    parts.push({ slot: m[1]! });
    at = m.index + m[0].length;
  }
  if (at < template.length) parts.push({ literal: template.slice(at) });
  return parts;
}

/**
 * Fills every slot but `hole` from `values` (unknown slots stay `{name}`, as in
 * {@link renderTemplate}) and returns the literal pieces around the holes:
 * the rendered text is `pieces[0] + v + pieces[1] + v + … + pieces[n]`.
 */
export function piecesAround(
  parts: readonly TemplatePart[],
  values: Readonly<Record<string, string>>,
  hole: string,
): string[] {
  const pieces = [''];
  for (const part of parts) {
    if ('literal' in part) pieces[pieces.length - 1] += part.literal;
    else if (part.slot === hole) pieces.push('');
    else pieces[pieces.length - 1] += values[part.slot] ?? `{${part.slot}}`;
  }
  return pieces;
}

/** `pieces` joined with `value` in every hole, by concatenation (faster than `join` for 1-3 pieces). */
function fill(pieces: readonly string[], value: string): string {
  let text = pieces[0]!;
  for (let i = 1; i < pieces.length; i++) text += value + pieces[i]!;
  return text;
}

/** What a publish request is made of (before `{env}` and `{ts}` are known). */
export interface RequestSpec {
  method: string;
  /** URL template with `{env}` and `{ts}` (`{target}` already resolved). */
  urlTemplate: string;
  /** Header lines (`Name: value`). */
  headers: readonly string[];
  /** Body template with `{env}` and `{ts}`. */
  bodyTemplate: string;
}

/** One request, ready to write. */
export interface BuiltRequest {
  endpoint: Endpoint;
  /** `host:port`: requests with the same key can share a connection. */
  key: string;
  /** Head and body, exactly as {@link requestBytes} builds them. */
  bytes: Buffer;
}

/** Builds the requests of one environment for any `{ts}`. */
export interface EnvRequests {
  /** `false` when every request is rendered and parsed (a `{ts}` the compiled path cannot place). */
  readonly compiled: boolean;
  build(ts: string): BuiltRequest;
}

/** Renders and parses everything per request: for URL templates the compiled path cannot take. */
function slowRequests(spec: RequestSpec, env: string): EnvRequests {
  return {
    compiled: false,
    build(ts) {
      const endpoint = parseEndpoint(renderTemplate(spec.urlTemplate, { env, ts }));
      const body = renderTemplate(spec.bodyTemplate, { env, ts });
      return {
        endpoint,
        key: `${endpoint.host}:${endpoint.port}`,
        bytes: requestBytes(spec.method, endpoint, spec.headers, body),
      };
    },
  };
}

/**
 * Compiles the requests of one environment once, so that building a request
 * is a few string concatenations and one `Buffer`: no template regex, no URL
 * parsing, no `Buffer.concat` per request. The bytes are those of
 * `requestBytes(method, parseEndpoint(renderTemplate(url)), headers, renderTemplate(body))`.
 * A `{ts}` in the URL's path or query is filled in per request; anywhere else
 * (or where URL parsing would change it) every request is rendered and parsed.
 */
export function compileRequests(spec: RequestSpec, env: string): EnvRequests {
  const urlParts = compileTemplate(spec.urlTemplate);
  const urlPieces = piecesAround(urlParts, { env }, 'ts');
  const endpoint = parseEndpoint(fill(urlPieces, TS_MARK));
  // The path with `{ts}` holes, if `{ts}` lands in the path or query unchanged by URL parsing.
  const pathPieces = endpoint.path.split(TS_MARK);
  if (
    pathPieces.length !== urlPieces.length ||
    endpoint.authority.includes(TS_MARK) ||
    endpoint.host.includes(TS_MARK)
  )
    return slowRequests(spec, env);
  const headTail = [`Host: ${endpoint.authority}`, ...spec.headers, 'Content-Length: '].join(
    '\r\n',
  );
  // The head up to the Content-Length value, with the `{ts}` holes of the path.
  const headPieces = [...pathPieces];
  headPieces[0] = `${spec.method} ${headPieces[0]}`;
  headPieces[headPieces.length - 1] += ` HTTP/1.1\r\n${headTail}`;
  const bodyPieces = piecesAround(compileTemplate(spec.bodyTemplate), { env }, 'ts');
  const asciiHead = headPieces.every((p) => ASCII.test(p));
  const key = `${endpoint.host}:${endpoint.port}`;
  const compiled: EnvRequests = {
    compiled: true,
    build(ts) {
      const body = fill(bodyPieces, ts);
      const length = Buffer.byteLength(body, 'utf8');
      const head = `${fill(headPieces, ts)}${length}\r\n\r\n`;
      let bytes: Buffer;
      // An ASCII head encodes the same in latin1 and utf8: one string, one Buffer.
      if (asciiHead && (headPieces.length === 1 || ASCII.test(ts)))
        bytes = Buffer.from(head + body, 'utf8');
      else {
        // One latin1 byte per character of the head, as requestBytes encodes it.
        bytes = Buffer.allocUnsafe(head.length + length);
        bytes.write(head, 0, 'latin1');
        bytes.write(body, head.length, 'utf8');
      }
      // Only the host and port of the endpoint matter to a connection; the path is rebuilt for honesty.
      return {
        endpoint: pathPieces.length === 1 ? endpoint : { ...endpoint, path: fill(pathPieces, ts) },
        key,
        bytes,
      };
    },
  };
  // URL parsing may normalise what surrounds `{ts}` (dot segments, escapes): check a sample against the slow path.
  const sample = '1700000000.123456';
  const slow = slowRequests(spec, env).build(sample);
  const fast = compiled.build(sample);
  if (!slow.bytes.equals(fast.bytes) || slow.key !== fast.key) return slowRequests(spec, env);
  return compiled;
}
