/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms));
}

/**
 * Calls `probe` every `intervalMs` until it returns `true`; rejects with `describe()` in the
 * message once `timeoutMs` passed. Errors thrown by `probe` count as "not yet".
 */
export async function waitFor(
  what: string,
  probe: () => boolean | Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; describe?: () => string },
): Promise<number> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await probe()) return Date.now() - started;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = options.describe ? ` (${options.describe()})` : '';
      throw new Error(`Timed out after ${options.timeoutMs} ms waiting for ${what}${detail}`, {
        cause: lastError,
      });
    }
    await delay(options.intervalMs ?? 100);
  }
}
