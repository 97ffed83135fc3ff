import type { Scenario } from '../scenario.js';
import { floods } from './floods.js';
import { hostileInput } from './hostile-input.js';
import { natsNodeLoss, natsNodeLossDirect } from './nats-node-loss.js';
import { natsOutage } from './nats-outage.js';
import { natsSecurity } from './nats-security.js';
import { slowClients } from './slow-clients.js';
import { sseInstanceLoss } from './sse-instance-loss.js';
import { tokenTiming } from './token-timing.js';

/** Every scenario, in the order of the issue. */
export const SCENARIOS: readonly Scenario[] = [
  natsNodeLoss,
  natsNodeLossDirect,
  natsOutage,
  sseInstanceLoss,
  slowClients,
  floods,
  hostileInput,
  tokenTiming,
  natsSecurity,
];
