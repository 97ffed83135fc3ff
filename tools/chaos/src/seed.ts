/** The fixed default seed of every random choice; `--seed` or `CHAOS_SEED` varies it. */
export const DEFAULT_SEED = 20_261_123;
