import { queueChangePath, streamPath } from '@flagsmith-rt/protocol';
import { renderTemplate } from './target.js';

const ENV_MARK = 'LOADGENENVMARK';

/** `{target}/sse/environments/{env}/stream`, from the protocol's path. */
export const DEFAULT_STREAM_TEMPLATE = `{target}${streamPath(ENV_MARK).replace(ENV_MARK, '{env}')}`;
/** `{target}/sse/environments/{env}/queue-change`, from the protocol's path. */
export const DEFAULT_PUBLISH_TEMPLATE = `{target}${queueChangePath(ENV_MARK).replace(ENV_MARK, '{env}')}`;
/** flagsmith-rt's publish body. */
export const DEFAULT_BODY_TEMPLATE = '{"updated_at": {ts}}';

/** How to reach a fan-out server: the same run can target flagsmith-rt or a peer such as nchan. */
export interface ServerTemplates {
  /** Base URLs of the instances (`http://127.0.0.1:8088`), substituted for `{target}`. */
  targets: string[];
  /** Environment (channel) names, substituted for `{env}`. */
  envs: string[];
  /** Stream URL template. @defaultValue {@link DEFAULT_STREAM_TEMPLATE} */
  streamTemplate: string;
  /** Publish URL template; `{target}` is the first target. @defaultValue {@link DEFAULT_PUBLISH_TEMPLATE} */
  publishTemplate: string;
  /** @defaultValue `POST` */
  publishMethod: string;
  /** Publish header lines (`Authorization: Token …`). */
  publishHeaders: string[];
  /** Publish body template (`{ts}`, `{env}`). @defaultValue {@link DEFAULT_BODY_TEMPLATE} */
  bodyTemplate: string;
}

/**
 * Every stream URL (instances × environments), ordered so that subscriber `g`
 * taking `urls[g % urls.length]` spreads evenly over instances and environments.
 */
export function streamUrls(t: ServerTemplates): string[] {
  const urls: string[] = [];
  for (let e = 0; e < t.envs.length; e++) {
    for (const target of t.targets) {
      urls.push(renderTemplate(t.streamTemplate, { target, env: t.envs[e]! }));
    }
  }
  return urls;
}

/** The publish URL template with `{target}` resolved to the first target. */
export function publishUrlTemplate(t: ServerTemplates): string {
  return renderTemplate(t.publishTemplate, { target: t.targets[0]! });
}

/** Header lines safe to print: credentials masked. */
export function redactHeaders(headers: readonly string[]): string[] {
  return headers.map((h) =>
    /^(authorization|cookie|x-api-key)\s*:/i.test(h) ? `${h.split(':')[0]}: ***` : h,
  );
}
