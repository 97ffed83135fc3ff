import type { FastifyInstance } from 'fastify';

/** One scrape of `/metricsz`: series (`name{labels}` as printed) to value, and `# TYPE` per metric. */
export interface Scrape {
  /** Value of a series, e.g. `flagsmith_sse_http_writes_total{message="data"}`; throws if absent. */
  value(series: string): number;
  /** Whether a series is present. */
  has(series: string): boolean;
  /** The `# TYPE` of a metric. */
  type(name: string): string | undefined;
  /** The raw text. */
  text: string;
}

/** Scrapes `/metricsz` over real HTTP and parses the Prometheus text format. */
export async function scrape(port: number): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${port}/metricsz`);
  if (res.status !== 200) throw new Error(`/metricsz answered ${res.status}`);
  return parseScrape(await res.text());
}

/** Scrapes through `app.inject` (no socket). */
export async function scrapeInject(app: FastifyInstance): Promise<Scrape> {
  const res = await app.inject({ method: 'GET', url: '/metricsz' });
  if (res.statusCode !== 200) throw new Error(`/metricsz answered ${res.statusCode}`);
  return parseScrape(res.body);
}

/** Parses Prometheus text exposition. */
export function parseScrape(text: string): Scrape {
  const values = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (name && type) types.set(name, type);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return {
    text,
    has: (series) => values.has(series),
    value(series) {
      const value = values.get(series);
      if (value === undefined) throw new Error(`no series ${series} in:\n${text}`);
      return value;
    },
    type: (name) => types.get(name),
  };
}
