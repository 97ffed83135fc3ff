export { findNatsServerBinary } from './binary.js';
export {
  NatsClusterTimeoutError,
  NatsLauncherError,
  type NatsLauncherErrorCode,
  NatsServerNotFoundError,
  NatsServerStartError,
} from './errors.js';
export { getFreePort } from './ports.js';
export { NatsServer, type NatsServerOptions, startNatsServer } from './server.js';
