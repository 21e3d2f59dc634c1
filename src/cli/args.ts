// A small argv parser for the CLI. Written here rather than with `node:util` parseArgs so that
// usage errors read the way the rest of plughost's messages do ("unknown flag --foo for
// plughost call") and so flags may be interleaved with positionals freely.

/** A command-line mistake: reported with the command's usage hint, exit status 2. */
export class UsageError extends Error {
  /** The subcommand whose usage applies (`call`, `info`), or undefined for the tool. */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }

  override get name(): string {
    return 'UsageError';
  }
}

/** How one flag takes its value. */
export interface FlagSpec {
  /** `boolean`: present or not; `string`: one value (the last wins); `list`: repeatable. */
  type: 'boolean' | 'string' | 'list';
  /** One-letter alias, without the dash. */
  short?: string;
  /** Other long names for the same flag (an older name, another tool's name), without `--`. */
  aliases?: readonly string[];
}

/**
 * The `extism` CLI's global flags, accepted by every command (and before it) so scripts written
 * for `extism call` run unchanged, and ignored: `--github-token` is for downloading libextism,
 * `--verbose` and `--quiet` for progress lines plughost does not print.
 */
export const EXTISM_GLOBAL_FLAGS: Readonly<Record<string, FlagSpec>> = {
  'github-token': { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  quiet: { type: 'boolean', short: 'q' },
};

/** `argv` without the `extism` global flags that lead it (`extism --github-token T call ...`). */
export function skipLeadingGlobalFlags(argv: readonly string[]): readonly string[] {
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i]!;
    if (arg === '-v' || arg === '--verbose' || arg === '-q' || arg === '--quiet' || arg.startsWith('--github-token=')) i += 1;
    else if (arg === '--github-token' && i + 1 < argv.length) i += 2;
    else break;
  }
  return argv.slice(i);
}

/** Parsed flags: booleans are true when present; strings the last value; lists every value in order. */
export interface ParsedArgs {
  flags: Map<string, true | string | string[]>;
  positionals: string[];
}

/**
 * Parses `argv` against `specs` (flag names without the leading `--`). Accepts `--name value`,
 * `--name=value`, `-x value`, and `--` to end flags. Throws {@link UsageError} for an unknown
 * flag, a missing value, or a value given to a boolean flag.
 */
export function parseArgs(argv: readonly string[], specs: Readonly<Record<string, FlagSpec>>, command?: string): ParsedArgs {
  const flags = new Map<string, true | string | string[]>();
  const positionals: string[] = [];
  const shorts = new Map<string, string>();
  const longs = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) {
    longs.set(name, name);
    for (const alias of spec.aliases ?? []) longs.set(alias, name);
    if (spec.short !== undefined) shorts.set(spec.short, name);
  }
  const where = command === undefined ? 'plughost' : `plughost ${command}`;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const given = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
      name = longs.get(given);
      if (name === undefined) throw new UsageError(`unknown flag --${given} for ${where}`, command);
    } else {
      name = arg.length === 2 ? shorts.get(arg.slice(1)) : undefined;
      if (name === undefined) throw new UsageError(`unknown flag ${arg} for ${where}`, command);
    }
    const spec = specs[name]!;
    if (spec.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`flag --${name} takes no value (got --${name}=${inline})`, command);
      flags.set(name, true);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag --${name} needs a value`, command);
      value = argv[++i]!;
    }
    if (spec.type === 'string') {
      flags.set(name, value);
    } else {
      const list = flags.get(name);
      if (Array.isArray(list)) list.push(value);
      else flags.set(name, [value]);
    }
  }
  return { flags, positionals };
}

/** The flag's value when it is a `string` flag given at least once. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags.get(name);
  return typeof value === 'string' ? value : undefined;
}

/** Every value of a `list` flag, in order; empty when absent. */
export function listFlag(args: ParsedArgs, name: string): string[] {
  const value = args.flags.get(name);
  return Array.isArray(value) ? value : [];
}

/** Whether a `boolean` flag was given. */
export function booleanFlag(args: ParsedArgs, name: string): boolean {
  return args.flags.get(name) === true;
}

/**
 * A whole number in [min, max] from a flag's text, or a {@link UsageError} naming the flag.
 * Accepts decimal digits only: `1e3`, `0x10`, `12ms` are mistakes worth reporting.
 */
export function wholeNumber(text: string, flag: string, min: number, max: number, command?: string): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`, command);
  }
  return value;
}
