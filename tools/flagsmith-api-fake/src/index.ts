export {
  FAKE_FEATURE_NAME,
  type FakeDocument,
  type FlagsmithApiFake,
  type FlagsmithApiFakeOptions,
  isoWithMicroseconds,
  startFlagsmithApiFake,
} from './fake.js';
