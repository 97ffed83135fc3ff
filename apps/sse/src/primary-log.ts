import { hostname } from 'node:os';
import type { LogLevel } from './config.js';

const LEVELS: Record<Exclude<LogLevel, 'silent'>, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};

/** A logger of the cluster primary, which runs no Fastify. */
export type PrimaryLogger = Record<
  Exclude<LogLevel, 'silent'>,
  (fields: Record<string, unknown>, msg: string) => void
>;

/**
 * JSON lines on stdout in the shape the workers' pino logs have (`level`,
 * `time`, `pid`, `hostname`, fields, `msg`), so one log stream reads alike
 * whichever process wrote a line. Each line is one `write` (atomic on a pipe).
 */
export function primaryLogger(level: LogLevel): PrimaryLogger {
  const threshold = level === 'silent' ? Number.POSITIVE_INFINITY : LEVELS[level];
  const base = { pid: process.pid, hostname: hostname() };
  const at =
    (name: keyof typeof LEVELS) =>
    (fields: Record<string, unknown>, msg: string): void => {
      const value = LEVELS[name];
      if (value < threshold) return;
      process.stdout.write(
        `${JSON.stringify({ level: value, time: Date.now(), ...base, ...fields, msg })}\n`,
      );
    };
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
  };
}
