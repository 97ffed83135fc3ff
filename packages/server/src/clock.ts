/**
 * The one way the server reads the time, in milliseconds since the epoch. Every
 * deadline, watchdog and timestamp goes through an injected `Clock`, so a test
 * can drive them; production uses {@link systemClock}.
 */
export type Clock = () => number;

/** The wall clock. */
export const systemClock: Clock = () => Date.now();
