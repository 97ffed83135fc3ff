import { SUBJECT_PREFIX } from './constants.js';

/**
 * The NATS subject of an environment. The key must already have passed
 * {@link validateEnvironmentKey}; this function does not check it again.
 */
export function subjectFor(environment: string): string {
  return SUBJECT_PREFIX + environment;
}

/** The environment key of a subject, or `undefined` if it is not an environment subject. */
export function environmentOfSubject(subject: string): string | undefined {
  if (!subject.startsWith(SUBJECT_PREFIX)) return undefined;
  const key = subject.slice(SUBJECT_PREFIX.length);
  return key.length > 0 && !key.includes('.') ? key : undefined;
}

/** The `Nats-Msg-Id` of an update: the same environment and timestamp always give the same id. */
export function messageIdFor(environment: string, updatedAt: number): string {
  return `${environment}:${updatedAt}`;
}
