export { findNatsServerBinary } from './binary.js';
export { NatsCluster, type NatsClusterOptions, startNatsCluster } from './cluster.js';
export {
  NatsClusterTimeoutError,
  NatsLauncherError,
  type NatsLauncherErrorCode,
  NatsServerNotFoundError,
  NatsServerStartError,
} from './errors.js';
export { getFreePort, getFreePorts } from './ports.js';
export { NatsServer, type NatsServerOptions, startNatsServer } from './server.js';
export { sweepStaleDirs } from './sweep.js';
