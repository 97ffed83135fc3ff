import { ALL_ENVIRONMENTS_SUBJECT, STREAM_SETTINGS } from '@flagsmith-rt/protocol';

const STREAM = STREAM_SETTINGS.name;

/**
 * The least NATS permissions the service needs, as the `permissions` block of a nats-server
 * user (2.9 JetStream API subjects). Proved by the `nats-security` scenario: the service runs
 * against a server that grants exactly this, with no permission violation logged.
 */
export const SERVICE_PERMISSIONS = {
  publish: {
    allow: [
      // The updates themselves.
      ALL_ENVIRONMENTS_SUBJECT,
      // JetStream API: account check, create/verify the stream, follow it with one consumer.
      '$JS.API.INFO',
      `$JS.API.STREAM.INFO.${STREAM}`,
      `$JS.API.STREAM.CREATE.${STREAM}`,
      `$JS.API.CONSUMER.CREATE.${STREAM}`,
      `$JS.API.CONSUMER.CREATE.${STREAM}.>`,
      `$JS.API.CONSUMER.INFO.${STREAM}.*`,
      `$JS.API.CONSUMER.DELETE.${STREAM}.*`,
      `$JS.API.CONSUMER.MSG.NEXT.${STREAM}.*`,
      // The read-back of a subject's last message after a refused compare-and-set write.
      `$JS.API.DIRECT.GET.${STREAM}.>`,
    ],
  },
  subscribe: {
    // Replies to API requests and the consumer's deliveries come to the client's inboxes.
    allow: ['_INBOX.>'],
  },
} as const;

/** {@link SERVICE_PERMISSIONS} in nats-server configuration syntax. */
export function permissionsConfig(): string {
  const list = (items: readonly string[]) => items.map((s) => JSON.stringify(s)).join(', ');
  return `permissions: {\n  publish: { allow: [${list(SERVICE_PERMISSIONS.publish.allow)}] }\n  subscribe: { allow: [${list(SERVICE_PERMISSIONS.subscribe.allow)}] }\n}`;
}
