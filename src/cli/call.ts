// `plughost call`: create a plug-in from a wasm file, manifest or URL, call one export (N times
// with --loop) and write the output bytes, exactly, to stdout.
import { readFile } from 'node:fs/promises';
import { createPlugin, FunctionNotFoundError, LinkError, type Logger, type LogLevel, type Plugin, type PluginOptions } from '../index.js';
import { LOG_LEVELS } from '../internal/host-env.js';
import { fileErrorReason } from '../internal/platform/node.js';
import { booleanFlag, listFlag, parseArgs, stringFlag, UsageError, wholeNumber, type FlagSpec } from './args.js';
import { CliFailure, linkFailure } from './failure.js';
import { readAll, writeOut, type CliIo, type OutputStream } from './io.js';

const CALL_USAGE = `Usage: plughost call <wasm | manifest.json | url> <function> [flags]

Call an export of an Extism plug-in and write its output to stdout, byte for byte (on a
terminal, followed by a newline when it does not end with one).

Input (at most one; default: empty):
  --input S               the input, as UTF-8 text
  --input-file F          the input, read from file F (- reads stdin)
  --stdin                 the input, read from stdin

What the plug-in may use (nothing by default):
  --config K=V            a config value, read with config_get (repeatable)
  --allow-host H          a host it may reach over HTTP; * matches any run of characters (repeatable)
  --allow-path HOST:GUEST mount host directory HOST at guest path GUEST; ro:HOST mounts it
                          read-only; a bare HOST mounts it at the same path (repeatable; implies --wasi)
  --wasi                  give it WASI preview 1 (wasi_snapshot_preview1)

Limits and logging:
  --timeout MS            fail a call that runs longer than MS milliseconds
  --max-pages N           cap its memory at N pages of 64 KiB
  --log-level L           write its log messages at level L and above to stderr:
                          trace, debug, info, warn, error, silent (default: silent)
  --loop N                call N times on one instance, state kept between calls; when N > 1,
                          each output is followed by a newline
  -h, --help              show this help

With a manifest, --allow-host, --allow-path, --timeout and --max-pages replace its settings;
--config values are merged over its config.

Exit status: 0 on success; the plug-in's exit code (1 to 255) when a call fails with one;
1 for any other failure; 2 for a usage error.

Example:
  plughost call count-vowels.wasm count_vowels --input "Hello, World!"
`;

const FLAGS: Record<string, FlagSpec> = {
  input: { type: 'string' },
  'input-file': { type: 'string' },
  stdin: { type: 'boolean' },
  config: { type: 'list' },
  'allow-host': { type: 'list' },
  'allow-path': { type: 'list' },
  wasi: { type: 'boolean' },
  timeout: { type: 'string' },
  'max-pages': { type: 'string' },
  'log-level': { type: 'string' },
  loop: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** Where the input comes from, once the flags are checked. */
type InputSource = { kind: 'text'; text: string } | { kind: 'file'; path: string } | { kind: 'stdin' } | { kind: 'none' };

/** Everything `call` was asked to do, validated. */
export interface CallRequest {
  source: string;
  functionName: string;
  input: InputSource;
  options: PluginOptions;
  loop: number;
}

/** `--allow-path` text → the manifest's key (`ro:` kept) and guest path. */
function parseAllowPath(text: string): [string, string] {
  const readOnly = text.startsWith('ro:');
  const spec = readOnly ? text.slice(3) : text;
  // The last colon separates HOST from GUEST, so a host path may itself hold colons
  // (a Windows drive letter) while guest paths, which are WASI paths, never do.
  const colon = spec.lastIndexOf(':');
  const host = colon < 0 ? spec : spec.slice(0, colon);
  const guest = colon < 0 ? spec : spec.slice(colon + 1);
  if (host === '' || guest === '') {
    throw new UsageError(`--allow-path must be HOST:GUEST, ro:HOST:GUEST or HOST, got ${JSON.stringify(text)}`, 'call');
  }
  return [readOnly ? `ro:${host}` : host, guest];
}

/** Validate `call`'s arguments; throws {@link UsageError}. Null when help was asked for. */
export function parseCallArgs(argv: readonly string[]): CallRequest | null {
  const args = parseArgs(argv, FLAGS, 'call');
  if (booleanFlag(args, 'help')) return null;
  const [source, functionName, ...extra] = args.positionals;
  if (source === undefined || functionName === undefined) {
    throw new UsageError(source === undefined ? 'call needs a plug-in (wasm file, manifest or URL) and a function name' : `call needs the name of the function to call in ${source}`, 'call');
  }
  if (extra.length > 0) throw new UsageError(`call takes a plug-in and one function name; unexpected ${JSON.stringify(extra[0])} (to send it as input, use --input)`, 'call');
  if (functionName === '') throw new UsageError('the function name is empty', 'call');

  const inputs: InputSource[] = [];
  const text = stringFlag(args, 'input');
  if (text !== undefined) inputs.push({ kind: 'text', text });
  const file = stringFlag(args, 'input-file');
  if (file !== undefined) inputs.push(file === '-' ? { kind: 'stdin' } : { kind: 'file', path: file });
  if (booleanFlag(args, 'stdin')) inputs.push({ kind: 'stdin' });
  if (inputs.length > 1) throw new UsageError('give at most one of --input, --input-file and --stdin', 'call');

  const options: PluginOptions = {};
  const config: Record<string, string> = {};
  for (const entry of listFlag(args, 'config')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new UsageError(`--config must be KEY=VALUE, got ${JSON.stringify(entry)}`, 'call');
    config[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  if (Object.keys(config).length > 0) options.config = config;
  const hosts = listFlag(args, 'allow-host');
  if (hosts.some((h) => h.trim() === '')) throw new UsageError('--allow-host needs a host name or pattern', 'call');
  if (hosts.length > 0) options.allowedHosts = hosts;
  const paths = listFlag(args, 'allow-path');
  if (paths.length > 0) options.allowedPaths = Object.fromEntries(paths.map(parseAllowPath));
  // Mounts are only visible through WASI, so asking for one is asking for WASI.
  if (booleanFlag(args, 'wasi') || paths.length > 0) options.useWasi = true;
  const timeout = stringFlag(args, 'timeout');
  if (timeout !== undefined) options.timeoutMs = wholeNumber(timeout, 'timeout', 1, 2 ** 31 - 1, 'call');
  const maxPages = stringFlag(args, 'max-pages');
  if (maxPages !== undefined) options.memory = { maxPages: wholeNumber(maxPages, 'max-pages', 1, 65536, 'call') };
  const logLevel = stringFlag(args, 'log-level');
  if (logLevel !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
      throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`, 'call');
    }
    options.logLevel = logLevel as LogLevel;
  }
  const loop = stringFlag(args, 'loop');
  return {
    source,
    functionName,
    input: inputs[0] ?? { kind: 'none' },
    options,
    loop: loop === undefined ? 1 : wholeNumber(loop, 'loop', 1, Number.MAX_SAFE_INTEGER, 'call'),
  };
}

async function readInput(input: InputSource, io: CliIo): Promise<Uint8Array | string> {
  switch (input.kind) {
    case 'none':
      return '';
    case 'text':
      return input.text;
    case 'file':
      try {
        return new Uint8Array(await readFile(input.path));
      } catch (err) {
        throw new CliFailure(`cannot read --input-file ${input.path}: ${fileErrorReason(err)}`, { cause: err });
      }
    case 'stdin':
      if (io.stdin === undefined) throw new CliFailure('no standard input to read');
      return readAll(io.stdin);
  }
}

/** Plug-in log messages, one line each on stderr: `[info] message`. */
function stderrLogger(stderr: OutputStream): Logger {
  const line = (level: string) => (message: string) => {
    stderr.write(`[${level}] ${message}\n`);
  };
  return { trace: line('trace'), debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

/** A one-line list of the plug-in's functions, for a "no such function" hint. */
async function exportedFunctions(plugin: Plugin): Promise<string> {
  const names = (await plugin.getExports()).filter((e) => e.kind === 'function').map((e) => e.name);
  if (names.length === 0) return 'the plug-in exports no functions';
  const shown = names.length > 12 ? [...names.slice(0, 12), `and ${names.length - 12} more`] : names;
  return `the plug-in exports: ${shown.join(', ')}`;
}

/** Run `plughost call`; returns the exit status (errors are thrown, and reported by run). */
export async function callCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const request = parseCallArgs(argv);
  if (request === null) {
    await writeOut(io.stdout, CALL_USAGE);
    return 0;
  }
  const input = await readInput(request.input, io);
  let plugin: Plugin;
  try {
    plugin = await createPlugin(request.source, { ...request.options, logger: stderrLogger(io.stderr) });
  } catch (err) {
    throw err instanceof LinkError ? linkFailure(err, request.options.useWasi === true) : err;
  }
  try {
    for (let i = 0; i < request.loop; i++) {
      let output;
      try {
        output = await plugin.call(request.functionName, input);
      } catch (err) {
        if (err instanceof FunctionNotFoundError) throw new CliFailure(err.message, { cause: err, hints: [await exportedFunctions(plugin)] });
        throw err;
      }
      const bytes = output?.bytes();
      if (bytes !== undefined && bytes.length > 0) await writeOut(io.stdout, bytes);
      // A terminal gets each output on a line of its own (not the shell prompt after it); a
      // pipe or file gets the bytes exactly, with separators only between --loop outputs.
      const endsLine = bytes !== undefined && bytes.length > 0 && bytes[bytes.length - 1] === 0x0a;
      if (request.loop > 1 || (io.stdout.isTTY === true && !endsLine)) await writeOut(io.stdout, '\n');
    }
  } finally {
    await plugin.close();
  }
  return 0;
}
