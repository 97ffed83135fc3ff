/**
 * How the benchmark reaches each server: flagsmith-rt by its protocol paths,
 * nchan by the locations {@link nchanConfig} sets up.
 */
export interface ServerKind {
  /** Short name for tables. */
  name: 'ours' | 'nchan';
  /** loadgen options that select the server's URL layout. */
  args(targets: string[]): string[];
}

/** flagsmith-rt (`apps/sse`): default templates, token from the environment. */
export const OURS: ServerKind = {
  name: 'ours',
  args: (targets) => targets.flatMap((t) => ['--target', t]),
};

/** nginx + nchan: `/sub/{env}` (EventSource) and `/pub/{env}` (the body is relayed unchanged). */
export const NCHAN: ServerKind = {
  name: 'nchan',
  args: (targets) => [
    ...targets.flatMap((t) => ['--target', t]),
    '--stream-url',
    '{target}/sub/{env}',
    '--publish-url',
    '{target}/pub/{env}',
  ],
};
