export { encodeChunk, LAST_CHUNK } from './chunk.js';
export * from './constants.js';
export { validateEnvironmentKey } from './environment-key.js';
export {
  encodeRetryFrame,
  encodeUpdateData,
  encodeUpdateFrame,
  KEEPALIVE_CHUNK,
  KEEPALIVE_FRAME,
  KEEPALIVE_FRAME_TEXT,
  type UpdateFrameOptions,
  updateFrameText,
} from './frame.js';
export {
  decodeUpdateData,
  decodeUpdateMessage,
  encodeUpdateMessage,
  parseEventId,
  parsePublishBody,
  parsePublishPayload,
} from './message.js';
export { queueChangePath, streamPath } from './paths.js';
export { fail, ok, type ProtocolError, type ProtocolErrorCode, type Result } from './result.js';
export { environmentOfSubject, messageIdFor, subjectFor } from './subject.js';
export {
  formatIsoTimestamp,
  formatTimestamp,
  MILLISECONDS_THRESHOLD,
  parseUpdatedAt,
  YEAR_10000_SECONDS,
} from './timestamp.js';
