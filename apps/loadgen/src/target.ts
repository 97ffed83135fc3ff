import { isIP } from 'node:net';
import { LoadgenError } from './errors.js';

/** Where one HTTP request goes, split for a raw socket. */
export interface Endpoint {
  /** IPv4 address or `localhost`. */
  host: string;
  /** TCP port. */
  port: number;
  /** Path and query. */
  path: string;
  /** The `Host` header value. */
  authority: string;
}

/**
 * Replaces `{name}` placeholders (`{env}`, `{ts}`, `{target}`) in a template.
 * Unknown placeholders stay as they are.
 */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/**
 * Parses an `http://` URL into an {@link Endpoint}. Only loopback targets
 * (127.0.0.0/8, `localhost`) are accepted: this tool opens tens of
 * thousands of connections and must never point them at another machine.
 */
export function parseEndpoint(url: string): Endpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new LoadgenError(
      'invalid_option',
      `"${url}" is not a URL (expected http://127.0.0.1:PORT/...).`,
      { cause },
    );
  }
  if (parsed.protocol !== 'http:') {
    throw new LoadgenError('invalid_option', `"${url}": only http:// targets are supported.`);
  }
  const host = parsed.hostname;
  if (!isLoopback(host)) {
    throw new LoadgenError(
      'invalid_option',
      `"${url}": only loopback targets (127.0.0.0/8, localhost) are allowed.`,
    );
  }
  const port = parsed.port === '' ? 80 : Number(parsed.port);
  return { host, port, path: `${parsed.pathname}${parsed.search}`, authority: parsed.host };
}

/** `true` for `localhost` and IPv4 addresses in 127.0.0.0/8. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * The source address of worker `index`: 127.0.0.2, 127.0.0.3, … Each gets
 * its own ephemeral port range (a socket bound before connecting takes a
 * port unique to its source address, ~28,000 of them).
 */
export function sourceAddress(index: number): string {
  return `127.0.${Math.floor(index / 250)}.${2 + (index % 250)}`;
}
