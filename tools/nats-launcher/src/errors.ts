/** Every failure code the launcher reports. */
export type NatsLauncherErrorCode =
  | 'nats_server_not_found'
  | 'nats_server_start_failed'
  | 'nats_server_start_timeout'
  | 'nats_cluster_timeout';

/** Base class of the launcher's errors; `code` tells them apart. */
export class NatsLauncherError extends Error {
  /** What went wrong, as a stable string. */
  readonly code: NatsLauncherErrorCode;

  constructor(code: NatsLauncherErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NatsLauncherError';
    this.code = code;
  }
}

/** No `nats-server` binary could be found (neither `NATS_SERVER_BIN` nor `PATH`). */
export class NatsServerNotFoundError extends NatsLauncherError {
  /** Where the launcher looked. */
  readonly searched: readonly string[];

  constructor(searched: readonly string[], options?: ErrorOptions) {
    super(
      'nats_server_not_found',
      `nats-server was not found (looked at: ${searched.join(', ') || 'nothing'}). ` +
        'Install it with `apt-get install -y nats-server` (Debian/Ubuntu) or download a release ' +
        'from https://github.com/nats-io/nats-server/releases, or set NATS_SERVER_BIN to the path ' +
        'of the executable.',
      options,
    );
    this.name = 'NatsServerNotFoundError';
    this.searched = searched;
  }
}

/** nats-server exited, or did not become ready in time; the message ends with its output. */
export class NatsServerStartError extends NatsLauncherError {
  /** The last lines nats-server wrote to stdout/stderr. */
  readonly outputTail: string;
  /** PID of the process that failed to start (it has been killed), or 0 if none was spawned. */
  readonly pid: number;

  constructor(
    code: 'nats_server_start_failed' | 'nats_server_start_timeout',
    message: string,
    outputTail: string,
    pid: number,
    options?: ErrorOptions,
  ) {
    super(code, `${message}\n--- nats-server output (tail) ---\n${outputTail}`, options);
    this.name = 'NatsServerStartError';
    this.outputTail = outputTail;
    this.pid = pid;
  }
}

/** A cluster did not reach the awaited state (leader elected, stream led) in time. */
export class NatsClusterTimeoutError extends NatsLauncherError {
  constructor(message: string, options?: ErrorOptions) {
    super('nats_cluster_timeout', message, options);
    this.name = 'NatsClusterTimeoutError';
  }
}
