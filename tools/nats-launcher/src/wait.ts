/** Resolves after `ms` without keeping the process alive. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms).unref());
}

/**
 * Calls `probe` until it returns a value other than `undefined`, or until `timeoutMs` passed.
 * Errors thrown by `probe` count as "not yet"; the last one is passed to `onTimeout`.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; onTimeout: (lastError: unknown) => Error },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) throw options.onTimeout(lastError);
    await delay(options.intervalMs ?? 100);
  }
}
