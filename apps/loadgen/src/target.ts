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

/** Source ports used when binding explicitly: below the ephemeral range (32768-60999), above common fixed ports. */
export const SOURCE_PORT_BASE = 20_000;
/** Subscribers per source address before moving to the next one. */
export const PORTS_PER_SOURCE = 10_000;

/**
 * The /24 of source addresses of worker `index` in one run: `127.<run>.<index + 1>`.
 * A random `run` octet keeps a run clear of the previous run's TIME_WAIT sockets.
 */
export function sourceNetwork(run: number, index: number): string {
  if (index > 250) throw new RangeError('at most 251 workers can have their own source addresses');
  return `127.${run}.${index + 1}`;
}

/**
 * Source address and port of subscriber `j` of a worker. Binding an explicit
 * port (not port 0) costs O(1) in the kernel, never touches the ephemeral
 * range other processes connect from, and with a distinct address per 10,000
 * subscribers goes past the ~28,000 ephemeral ports a source address has.
 */
export function sourceFor(network: string, j: number): { localAddress: string; localPort: number } {
  return {
    localAddress: `${network}.${2 + Math.floor(j / PORTS_PER_SOURCE)}`,
    localPort: SOURCE_PORT_BASE + (j % PORTS_PER_SOURCE),
  };
}
