import { describe, expect, test } from 'vitest';
import {
  ALL_ENVIRONMENTS_SUBJECT,
  environmentOfSubject,
  messageIdFor,
  parseUpdatedAt,
  queueChangePath,
  STREAM_SETTINGS,
  SUBJECT_PREFIX,
  streamPath,
  subjectFor,
} from '../src/index.js';

describe('subjects (PROTOCOL.md "JetStream layout")', () => {
  test('an environment is flagsmith.environment.<environment>', () => {
    expect(SUBJECT_PREFIX).toBe('flagsmith.environment.');
    expect(subjectFor('n9fbf9h3v4fFgH3U3ngWhb')).toBe(
      'flagsmith.environment.n9fbf9h3v4fFgH3U3ngWhb',
    );
  });

  test('the stream captures flagsmith.environment.>', () => {
    expect(ALL_ENVIRONMENTS_SUBJECT).toBe('flagsmith.environment.>');
    expect(STREAM_SETTINGS.subjects).toEqual(['flagsmith.environment.>']);
  });

  test('environmentOfSubject inverts subjectFor', () => {
    expect(environmentOfSubject(subjectFor('abc-_09'))).toBe('abc-_09');
  });

  test('environmentOfSubject refuses other subjects', () => {
    for (const subject of [
      'flagsmith.environment.',
      'flagsmith.environment.a.b',
      'flagsmith.environments.abc',
      'other.environment.abc',
      'flagsmith.environment',
      '',
    ]) {
      expect(environmentOfSubject(subject), subject).toBeUndefined();
    }
  });
});

describe('message ids (Nats-Msg-Id, dedupe within the duplicate window)', () => {
  test('the same environment and timestamp give the same id, whatever form was published', () => {
    const forms = [
      1735229888760,
      1735229888.76,
      '2024-12-26T16:18:08.760000+00:00',
      '2024-12-26T21:48:08.76+05:30',
    ];
    const ids = forms.map((form) => {
      const result = parseUpdatedAt(form);
      if (!result.ok) throw new Error(result.error.message);
      return messageIdFor('abc', result.value);
    });
    expect(new Set(ids)).toEqual(new Set(['abc:1735229888.76']));
    expect(messageIdFor('abc', 1735229888)).toBe(messageIdFor('abc', 1735229888.0));
  });

  test('a different environment or timestamp gives a different id', () => {
    const id = messageIdFor('abc', 1735229888.76);
    expect(messageIdFor('abd', 1735229888.76)).not.toBe(id);
    expect(messageIdFor('abc', 1735229888.77)).not.toBe(id);
    expect(messageIdFor('abc', 1735229888.7600002)).not.toBe(id);
  });
});

describe('paths (PROTOCOL.md "HTTP endpoints")', () => {
  test('stream and queue-change paths', () => {
    expect(streamPath('n9fbf9h3v4fFgH3U3ngWhb')).toBe(
      '/sse/environments/n9fbf9h3v4fFgH3U3ngWhb/stream',
    );
    expect(queueChangePath('abc')).toBe('/sse/environments/abc/queue-change');
  });

  test('a key that is not URL-safe is percent-encoded, not spliced into the path', () => {
    expect(streamPath('a/b c')).toBe('/sse/environments/a%2Fb%20c/stream');
    expect(queueChangePath('../x')).toBe('/sse/environments/..%2Fx/queue-change');
  });
});
