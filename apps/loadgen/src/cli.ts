import { LoadgenError } from './errors.js';
import { main } from './run.js';

main(process.argv.slice(2)).then(
  ({ code }) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `loadgen: ${error instanceof LoadgenError ? error.message : String((error as Error)?.stack ?? error)}\n`,
    );
    process.exit(2);
  },
);
