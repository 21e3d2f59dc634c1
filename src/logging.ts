/**
 * Plug-in logging: the levels and where log lines go. Its own module because both the options
 * (`logger`, `logLevel`) and the call context (`logLevel`) name them.
 *
 * @module
 */

/** Log levels, lowest first. `silent` turns plug-in logging off. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Where plug-in log messages go: any object with the five level methods (`console` fits). */
export interface Logger {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}
