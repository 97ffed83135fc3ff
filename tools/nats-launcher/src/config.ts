/** What goes into a generated nats-server configuration file. */
export interface ServerConfigParts {
  /** Client port; -1 lets the server choose. */
  port: number;
  /** Unique server name (required for clustered JetStream). */
  serverName: string;
  /** JetStream store directory, or `undefined` to leave JetStream off. */
  storeDir: string | undefined;
  /** Text appended verbatim (cluster block, authorization, TLS, limits...). */
  extra: string;
}

/** Renders a nats-server configuration: loopback only, monitor port for health checks. */
export function renderConfig(parts: ServerConfigParts): string {
  const lines = [
    `server_name: ${JSON.stringify(parts.serverName)}`,
    `listen: "127.0.0.1:${parts.port}"`,
    // The monitor port answers /healthz whatever client auth or TLS the extra config sets.
    'http: "127.0.0.1:-1"',
  ];
  if (parts.storeDir !== undefined) {
    lines.push(`jetstream {\n  store_dir: ${JSON.stringify(parts.storeDir)}\n}`);
  }
  if (parts.extra.trim()) lines.push(parts.extra);
  return `${lines.join('\n')}\n`;
}
