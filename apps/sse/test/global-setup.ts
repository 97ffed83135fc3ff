import { build } from 'tsup';
import config from '../tsup.config.js';

/** Builds dist/main.js so the process tests run the real entry point. */
export default async function setup(): Promise<void> {
  await build({ ...(config as object), silent: true });
}
