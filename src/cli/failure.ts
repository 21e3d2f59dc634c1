// From an error to what the user sees: `plughost: <message>` lines, hints, and the exit status.
import { LinkError, PlughostError, PluginCallError } from '../index.js';
import { UsageError } from './args.js';
import { importHints, splitQualified } from './imports.js';

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

/** The exit status for `err`: 2 usage, the plug-in's exit code clamped to 1..255 for a failed call, else 1. */
export function exitStatusOf(err: unknown): number {
  if (err instanceof UsageError) return 2;
  if (err instanceof PluginCallError) {
    const code = err.exitCode;
    return Number.isInteger(code) && code >= 1 ? Math.min(code, 255) : 1;
  }
  return 1;
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
 * A link failure restated for the command line: the library's message without its hint about
 * the `useWasi` option, and one hint per kind of missing import (the flag to pass, or why the
 * CLI cannot help). `wasi`: whether WASI was on.
 */
export function linkFailure(err: LinkError, wasi: boolean): CliFailure {
  const text = err.message.replace(/\s*\([^()]*useWasi[^()]*\)\s*$/, '');
  return new CliFailure(text, { cause: err, hints: importHints(err.missing.map(splitQualified), wasi) });
}

function message(err: unknown): string {
  if (err instanceof PluginCallError && err.code === 'PLUGHOST_CALL') {
    // A plug-in's own error message (or a trap's) may not say where it came from.
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
  if (denied !== undefined && typeof denied.url === 'string' && URL.canParse(denied.url)) {
    out.push(`allow the plug-in to reach it with --allow-host ${new URL(denied.url).hostname}`);
  }
  const limit = codeIn(err, 'PLUGHOST_MEMORY_LIMIT');
  if (limit !== undefined && /page/i.test(limit.message)) out.push('raise the memory cap with --max-pages N (64 KiB pages)');
  return out;
}

/** The lines to print on stderr for `err`, each starting with `plughost: `. */
export function describeFailure(err: unknown): string[] {
  const lines = [`plughost: ${message(err)}`];
  for (const hint of hints(err)) lines.push(`plughost: hint: ${hint}`);
  if (err instanceof UsageError) {
    lines.push(`plughost: run 'plughost ${err.command === undefined ? '' : `${err.command} `}--help' for usage`);
  }
  return lines;
}
