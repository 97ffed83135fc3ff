/** Path of an environment's SSE stream (the key is not validated here). */
export function streamPath(environment: string): string {
  return `/sse/environments/${encodeURIComponent(environment)}/stream`;
}

/** Path of an environment's publish endpoint (the key is not validated here). */
export function queueChangePath(environment: string): string {
  return `/sse/environments/${encodeURIComponent(environment)}/queue-change`;
}
