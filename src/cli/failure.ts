// From an error to what the user sees: an `Error: <message>` line, as `extism call` prints it
// (scripts written for it match that line), further lines, hints, and the exit status.
// The statuses never overlap: 1 a failed call, 2 a usage error, 3 a plug-in that could not be
// run. The plug-in's own exit code goes to stderr, never into the status, where a plug-in
// returning 2 would pass for a usage error.
import { FunctionNotFoundError, LinkError, PlughostError, PluginCallError } from '../index.js';
import { missingImportHints } from '../internal/linker.js';
import { UsageError } from './args.js';
import { importHints, splitQualified } from './imports.js';
import { terminalText } from './io.js';

/** A failure the CLI itself detected (unreadable input file, ...), with optional hints; exit 1. */
export class CliFailure extends Error {
  readonly hints: readonly string[];
  constructor(message: string, options?: { cause?: unknown; hints?: readonly string[] }) {
    super(message, options);
    this.hints = options?.hints ?? [];
  }

  override get name(): string {
    return 'CliFailure';
  }
}

/** A call of the plug-in failed (or its initialization did): `cause` says how. Exit status 1. */
export class PluginFailure extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }

  override get name(): string {
    return 'PluginFailure';
  }
}

/** Exit statuses of the CLI. */
export const EXIT = { ok: 0, callFailed: 1, usage: 2, cannotRun: 3 } as const;

/** The exit status for `err`: 1 a failed call, 2 a usage error, 3 anything else. */
export function exitStatusOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof PluginFailure) return EXIT.callFailed;
  if (err instanceof PluginCallError && !(err instanceof FunctionNotFoundError)) return EXIT.callFailed;
  return EXIT.cannotRun;
}

/** `err` and its causes, outermost first (bounded: a cause chain may be cyclic). */
function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && chain.length < 8 && !chain.includes(e); e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

function codeIn(err: unknown, code: string): PlughostError | undefined {
  return causes(err).find((e): e is PlughostError => e instanceof PlughostError && e.code === code);
}

/**
 * A link failure restated for the command line: the library's message without its hints (the
 * `useWasi` option, the ABI before 1.0), and one hint per kind of missing import (the flag to pass, or why the
 * CLI cannot help). `wasi`: whether WASI was on.
 */
export function linkFailure(err: LinkError, wasi: boolean): CliFailure {
  const libraryHints = missingImportHints(err.missing, wasi);
  const text = libraryHints !== '' && err.message.endsWith(libraryHints) ? err.message.slice(0, -libraryHints.length) : err.message;
  return new CliFailure(text, { cause: err, hints: importHints(err.missing.map(splitQualified), wasi) });
}

function message(err: unknown): string {
  if (err instanceof PluginCallError && err.code === 'PLUGHOST_CALL' && err.cause !== undefined) {
    // A trap's or a host function's message may not say where it came from; the plug-in's own
    // message stays as it set it, as extism call prints it.
    const name = err.functionName;
    const named = name === '' || err.message.startsWith(`${name}:`) || err.message.includes(`"${name}"`);
    return named ? err.message : `${name}: ${err.message}`;
  }
  if (err instanceof PlughostError && err.code === 'PLUGHOST_WASM_SOURCE' && err.message.endsWith('fetch failed')) {
    // fetch() fails with a bare "fetch failed"; the reason (DNS, refused, TLS) is its cause.
    const deepest = causes(err).at(-1);
    const detail = deepest instanceof Error && deepest !== err ? deepest.message : '';
    return detail !== '' && !err.message.includes(detail) ? `${err.message} (${detail})` : err.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

function hints(err: unknown): string[] {
  if (err instanceof CliFailure) return [...err.hints];
  if (err instanceof LinkError) return importHints(err.missing.map(splitQualified), false);
  const out: string[] = [];
  if (err instanceof PlughostError && err.code === 'PLUGHOST_TIMEOUT') out.push('allow more time with --timeout MS');
  const denied = codeIn(err, 'PLUGHOST_HTTP_DENIED') as (PlughostError & { url?: string }) | undefined;
  // With no allowedHosts at all the host refuses before it has a policy to ask: only the message names the URL.
  const deniedUrl = denied?.url ?? (err instanceof Error ? /HTTP request to (\S+) denied: no host is in allowedHosts/.exec(err.message)?.[1] : undefined);
  if (typeof deniedUrl === 'string' && URL.canParse(deniedUrl)) {
    out.push(`allow the plug-in to reach it with --allow-host ${new URL(deniedUrl).hostname}`);
  }
  const limit = codeIn(err, 'PLUGHOST_MEMORY_LIMIT');
  if (limit !== undefined && /page/i.test(limit.message)) out.push('raise the memory cap with --memory-max N (64 KiB pages)');
  return out;
}

/**
 * The exit code a failed call reported itself (an error it set with its return value, a
 * non-zero return, a WASI exit), when its message does not already say it; undefined for a
 * trap, a timeout and the like, whose -1 is plughost's, not the plug-in's.
 */
function reportedExitCode(err: unknown): number | undefined {
  if (!(err instanceof PluginCallError) || err.code !== 'PLUGHOST_CALL' || err.cause !== undefined) return undefined;
  if (err.exitCode === 0 || new RegExp(`\\bcode ${err.exitCode}\\b`).test(err.message)) return undefined;
  return err.exitCode;
}

/**
 * The lines to print on stderr for `err`: `Error: <message>`, then the plug-in's exit code in
 * the words of `extism call`, hints (`hint: ...`) and where the usage is.
 */
export function describeFailure(err: unknown): string[] {
  const failure = err instanceof PluginFailure ? err.cause : err;
  // the message may be the plug-in's own text (or hold its names): written out safe for a terminal
  const lines = [`Error: ${terminalText(message(failure))}`];
  const exitCode = reportedExitCode(failure);
  if (exitCode !== undefined) lines.push(`returned non-zero exit code: ${exitCode}`);
  for (const hint of hints(failure)) lines.push(`hint: ${terminalText(hint)}`);
  if (err instanceof UsageError) {
    lines.push(`run 'plughost ${err.command === undefined ? '' : `${err.command} `}--help' for usage`);
  }
  return lines;
}
