/** Reads one sample from the service's Prometheus text (`/metricsz`), or undefined. */
export async function readMetric(baseUrl: string, name: string): Promise<number | undefined> {
  try {
    const response = await fetch(`${baseUrl}/metricsz`, { signal: AbortSignal.timeout(2_000) });
    const text = await response.text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    if (line === undefined) return undefined;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
