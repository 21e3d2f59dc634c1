// `plughost call`: create a plug-in from a wasm file, manifest or URL, call one export (N times
// with --loop) and write the output bytes, exactly, to stdout. The flags are `extism call`'s
// (the official CLI), so a user switches without relearning, plus a few of plughost's own.
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path';
import {
  createPlugin,
  FunctionNotFoundError,
  LinkError,
  type Logger,
  type LogLevel,
  type Plugin,
  PluginCallError,
  type PluginOptions,
  type PluginOutput,
} from '../index.js';
import { LOG_LEVELS } from '../internal/host-env.js';
import { fileErrorReason } from '../internal/platform/node/host.js';
import { booleanFlag, EXTISM_GLOBAL_FLAGS, type FlagSpec, listFlag, parseArgs, stringFlag, UsageError, wholeNumber } from './args.js';
import { CliFailure, linkFailure, PluginFailure } from './failure.js';
import { type CliIo, type OutputStream, readAll, terminalName, terminalText, writeOut } from './io.js';

const CALL_USAGE = `Usage: plughost call <wasm | manifest.json | url> <function> [flags]

Call an export of an Extism plug-in and write its output to stdout, byte for byte (on a
terminal, followed by a newline when it does not end with one). The flags are those of
extism call; the ones marked (plughost) are plughost's own.

The plug-in:
  -m, --manifest          the file is a JSON manifest, whatever its name (a .json file always is)
  --link NAME=PATH        link another module under the import namespace NAME; PATH may be an
                          http(s) URL; a bare PATH is named after its file (repeatable)

Input (at most one; default: empty):
  -i, --input S           the input, as UTF-8 text
  --stdin                 the input, read from stdin
  --input-file F          the input, read from file F (- reads stdin) (plughost)

What the plug-in may use (nothing by default):
  --config K=V            a config value, read with config_get; K alone sets "" (repeatable)
  --set-config JSON       config values as one JSON object of strings; --config wins over it
  --allow-host H          a host it may reach over HTTP; * matches any run of characters (repeatable)
  --allow-http-response-headers
                          let it read the headers of HTTP responses (plughost; extism call's
                          --enable-http-response-headers works too)
  --allow-path HOST:GUEST mount host directory HOST at guest path GUEST; ro:HOST:GUEST mounts it
                          read-only; a bare HOST mounts it at the same path (repeatable; implies --wasi)
  --wasi                  give it WASI preview 1 (wasi_snapshot_preview1)
  --enable-wasi-output    let its WASI stdout and stderr through to this terminal's (plughost;
                          implies --wasi; the plug-in then runs in a worker, and waits for a
                          slow reader)

Limits:
  --timeout MS            fail a call that runs longer than MS milliseconds (0: no limit)
  --memory-max N          cap its memory at N pages of 64 KiB (0: no cap; --max-pages works too)
  --var-max BYTES         cap the total size of its vars (default 1 MiB; 0: no vars)
  --http-response-max BYTES
                          cap the size of an HTTP response body (default 50 MiB)
  --fuel N                fail a call that runs more than N instructions (plughost)

Output and logging:
  --log-level L           write its log messages at level L and above to stderr: trace, debug,
                          info, warn, error (the default), silent
  --loop N                call N times on one instance, state kept between calls; when N > 1,
                          each output is followed by a newline
  -h, --help              show this help
  --github-token T, -v, --verbose, -q, --quiet
                          extism's global flags, accepted so its scripts run unchanged, and
                          ignored (plughost downloads nothing and prints no progress lines)

With a manifest, --allow-host and --link add to its hosts and modules, --allow-path,
--config and --set-config are merged over its paths and config, and the limits replace its own.

Exit status (and what stderr says: "Error: <message>" first, as extism call prints it):
  0  the call succeeded (stderr: only the plug-in's log messages)
  1  the call failed: "Error: <message>" (the plug-in's own message as it set it; a trap's
     after the function's name), then "returned non-zero exit code: N" when the plug-in
     gave one (signed: -1 is -1), for an error it set, a non-zero return, a WASI exit, a
     trap, a timeout or running out of fuel
  2  usage error: "Error: <what is wrong>", then "run 'plughost call --help' for usage"
  3  the plug-in could not be run: unreadable file, bad manifest, missing import, no such
     function, unreadable input (with "hint: ..." lines when there is something to do)
The plug-in's exit code is never used as the status: 2 always means a usage error.

Example:
  plughost call count-vowels.wasm count_vowels --input "Hello, World!"
`;

const FLAGS: Record<string, FlagSpec> = {
  manifest: { type: 'boolean', short: 'm' },
  link: { type: 'list' },
  input: { type: 'string', short: 'i' },
  'input-file': { type: 'string' },
  stdin: { type: 'boolean' },
  config: { type: 'list' },
  'set-config': { type: 'string' },
  'allow-host': { type: 'list' },
  'allow-http-response-headers': { type: 'boolean', aliases: ['enable-http-response-headers'] },
  'allow-path': { type: 'list' },
  wasi: { type: 'boolean' },
  'enable-wasi-output': { type: 'boolean' },
  timeout: { type: 'string' },
  'memory-max': { type: 'string', aliases: ['max-pages'] },
  'var-max': { type: 'string' },
  'http-response-max': { type: 'string' },
  fuel: { type: 'string' },
  'log-level': { type: 'string' },
  loop: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...EXTISM_GLOBAL_FLAGS,
};

/** Where the input comes from, once the flags are checked. */
type InputSource = { kind: 'text'; text: string } | { kind: 'file'; path: string } | { kind: 'stdin' } | { kind: 'none' };

/** A module linked with --link: a file or a URL, under an import namespace. */
export type LinkedModule = { name: string; path: string } | { name: string; url: string };

/** What the flags put into (or over) the plug-in's manifest. */
export interface ManifestFlags {
  /** Whether the source is a manifest file (-m, or a name ending in .json). */
  isManifest: boolean;
  links: LinkedModule[];
  /** --set-config, then --config over it. */
  config: Record<string, string>;
  allowedHosts: string[];
  allowedPaths: Record<string, string>;
  /** The manifest's memory fields the flags set (snake_case, as a manifest file spells them). */
  memory: { max_pages?: number; max_var_bytes?: number; max_http_response_bytes?: number };
  /** --timeout; 0 means none. */
  timeoutMs?: number;
}

/** Everything `call` was asked to do, validated. */
export interface CallRequest {
  source: string;
  functionName: string;
  input: InputSource;
  manifest: ManifestFlags;
  /** The options that are not manifest fields. */
  options: PluginOptions;
  /** Whether the guest's WASI stdout/stderr go to ours (--enable-wasi-output). */
  wasiOutput: boolean;
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

const isUrl = (text: string) => /^https?:\/\//i.test(text);

/** `--link NAME=PATH` (or a bare PATH, named after its file without the extension). */
function parseLink(text: string): LinkedModule {
  const eq = text.indexOf('=');
  // A URL may hold "=" in its query: only text before "://" can be a name.
  const named = eq > 0 && !text.slice(0, eq).includes('://');
  const location = named ? text.slice(eq + 1) : text;
  const name = named ? text.slice(0, eq) : basename(location.replace(/[?#].*$/, ''), extname(location.replace(/[?#].*$/, '')));
  if (location === '' || name === '') throw new UsageError(`--link must be NAME=PATH or PATH, got ${JSON.stringify(text)}`, 'call');
  return isUrl(location) ? { name, url: location } : { name, path: location };
}

/** `--set-config` text → its config values; a usage error unless a JSON object of strings. */
function parseSetConfig(text: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--set-config must be a JSON object, got ${JSON.stringify(text)} (${(err as Error).message})`, 'call');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--set-config must be a JSON object of strings, got ${JSON.stringify(text)}`, 'call');
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') throw new UsageError(`--set-config values must be strings; "${key}" is ${JSON.stringify(value)}`, 'call');
  }
  return parsed as Record<string, string>;
}

/** Validate `call`'s arguments; throws {@link UsageError}. Null when help was asked for. */
export function parseCallArgs(argv: readonly string[]): CallRequest | null {
  const args = parseArgs(argv, FLAGS, 'call');
  if (booleanFlag(args, 'help')) return null;
  const [source, functionName, ...extra] = args.positionals;
  if (source === undefined || functionName === undefined) {
    throw new UsageError(
      source === undefined
        ? 'call needs a plug-in (wasm file, manifest or URL) and a function name'
        : `call needs the name of the function to call in ${source}`,
      'call',
    );
  }
  if (extra.length > 0)
    throw new UsageError(`call takes a plug-in and one function name; unexpected ${JSON.stringify(extra[0])} (to send it as input, use --input)`, 'call');
  if (functionName === '') throw new UsageError('the function name is empty', 'call');

  const inputs: InputSource[] = [];
  const text = stringFlag(args, 'input');
  if (text !== undefined) inputs.push({ kind: 'text', text });
  const file = stringFlag(args, 'input-file');
  if (file !== undefined) inputs.push(file === '-' ? { kind: 'stdin' } : { kind: 'file', path: file });
  if (booleanFlag(args, 'stdin')) inputs.push({ kind: 'stdin' });
  if (inputs.length > 1) throw new UsageError('give at most one of --input, --input-file and --stdin', 'call');

  const isManifest = booleanFlag(args, 'manifest') || (!isUrl(source) && source.toLowerCase().endsWith('.json'));
  if (booleanFlag(args, 'manifest') && isUrl(source)) throw new UsageError('--manifest reads a manifest file; give its path, not a URL', 'call');
  const setConfig = stringFlag(args, 'set-config');
  const config: Record<string, string> = setConfig === undefined ? {} : parseSetConfig(setConfig);
  for (const entry of listFlag(args, 'config')) {
    // As extism call: KEY=VALUE, or KEY alone for an empty value.
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (key === '') throw new UsageError(`--config must be KEY=VALUE or KEY, got ${JSON.stringify(entry)}`, 'call');
    config[key] = eq < 0 ? '' : entry.slice(eq + 1);
  }
  const hosts = listFlag(args, 'allow-host');
  if (hosts.some((h) => h.trim() === '')) throw new UsageError('--allow-host needs a host name or pattern', 'call');
  const paths = listFlag(args, 'allow-path');
  const memory: ManifestFlags['memory'] = {};
  const memoryMax = stringFlag(args, 'memory-max');
  if (memoryMax !== undefined) {
    const pages = wholeNumber(memoryMax, 'memory-max', 0, 65536, 'call');
    if (pages > 0) memory.max_pages = pages;
  }
  const varMax = stringFlag(args, 'var-max');
  if (varMax !== undefined) memory.max_var_bytes = wholeNumber(varMax, 'var-max', 0, Number.MAX_SAFE_INTEGER, 'call');
  const httpMax = stringFlag(args, 'http-response-max');
  if (httpMax !== undefined) memory.max_http_response_bytes = wholeNumber(httpMax, 'http-response-max', 0, Number.MAX_SAFE_INTEGER, 'call');
  const timeout = stringFlag(args, 'timeout');
  const manifest: ManifestFlags = {
    isManifest,
    links: listFlag(args, 'link').map(parseLink),
    config,
    allowedHosts: hosts,
    allowedPaths: Object.fromEntries(paths.map(parseAllowPath)),
    memory,
  };
  if (timeout !== undefined) manifest.timeoutMs = wholeNumber(timeout, 'timeout', 0, 2 ** 31 - 1, 'call');

  const options: PluginOptions = {};
  const wasiOutput = booleanFlag(args, 'enable-wasi-output');
  // Mounts and guest output exist only through WASI, so asking for them is asking for WASI.
  if (booleanFlag(args, 'wasi') || paths.length > 0 || wasiOutput) options.useWasi = true;
  if (booleanFlag(args, 'allow-http-response-headers')) options.allowHttpResponseHeaders = true;
  const fuel = stringFlag(args, 'fuel');
  if (fuel !== undefined) options.fuel = wholeNumber(fuel, 'fuel', 1, Number.MAX_SAFE_INTEGER, 'call');
  const logLevel = stringFlag(args, 'log-level');
  if (logLevel !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
      throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`, 'call');
    }
  }
  // extism call shows the plug-in's error-level messages unless told otherwise.
  options.logLevel = (logLevel ?? 'error') as LogLevel;
  const loop = stringFlag(args, 'loop');
  return {
    source,
    functionName,
    input: inputs[0] ?? { kind: 'none' },
    manifest,
    options,
    wasiOutput,
    loop: loop === undefined ? 1 : wholeNumber(loop, 'loop', 1, Number.MAX_SAFE_INTEGER, 'call'),
  };
}

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A manifest file's JSON, its relative module paths made absolute against its folder. */
async function readManifestFile(path: string): Promise<JsonObject> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliFailure(`cannot read manifest ${path}: ${fileErrorReason(err)}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliFailure(`manifest ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(parsed)) throw new CliFailure(`manifest ${path} must be a JSON object with a "wasm" array`);
  if (Array.isArray(parsed.wasm)) {
    const base = dirname(resolve(path));
    parsed.wasm = parsed.wasm.map((entry: unknown) =>
      isObject(entry) && typeof entry.path === 'string' && !isAbsolute(entry.path) ? { ...entry, path: resolve(base, entry.path) } : entry,
    );
  }
  return parsed;
}

/** A URL's manifest when it answers with JSON (as createPlugin decides), else its response as the one module. */
async function fetchSource(url: string): Promise<JsonObject> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (err) {
    const reason = err instanceof Error && err.cause instanceof Error ? `${err.message} (${err.cause.message})` : String((err as Error)?.message ?? err);
    throw new CliFailure(`cannot fetch ${url}: ${reason}`, { cause: err });
  }
  if (!/\b(application|text)\/json\b/.test(response.headers.get('content-type') ?? '')) return { wasm: [{ response }] };
  if (!response.ok) throw new CliFailure(`cannot fetch the manifest ${url}: HTTP ${response.status}`);
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliFailure(`manifest ${url} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(parsed)) throw new CliFailure(`manifest ${url} must be a JSON object with a "wasm" array`);
  return parsed;
}

/** The value of a manifest field spelled either way, and the field removed in both spellings. */
function takeField(record: JsonObject, camel: string, snake: string): unknown {
  const value = record[camel] !== undefined ? record[camel] : record[snake];
  delete record[camel];
  delete record[snake];
  return value;
}

/**
 * The manifest to create the plug-in from: the source's (a manifest file, or one module), with
 * the flags over it as `extism call` puts them: linked modules first (the plug-in's module
 * stays the main one), hosts added, paths and config merged, limits replaced.
 */
export async function buildManifest(source: string, flags: ManifestFlags): Promise<JsonObject> {
  const manifest: JsonObject = isUrl(source) ? await fetchSource(source) : flags.isManifest ? await readManifestFile(source) : { wasm: [{ path: source }] };
  if (flags.links.length > 0) manifest.wasm = [...flags.links, ...(Array.isArray(manifest.wasm) ? manifest.wasm : [])];
  const hosts = takeField(manifest, 'allowedHosts', 'allowed_hosts');
  if (flags.allowedHosts.length > 0 || hosts !== undefined) manifest.allowed_hosts = [...(Array.isArray(hosts) ? hosts : []), ...flags.allowedHosts];
  const paths = takeField(manifest, 'allowedPaths', 'allowed_paths');
  if (Object.keys(flags.allowedPaths).length > 0 || paths !== undefined) manifest.allowed_paths = { ...(isObject(paths) ? paths : {}), ...flags.allowedPaths };
  if (Object.keys(flags.config).length > 0) manifest.config = { ...(isObject(manifest.config) ? manifest.config : {}), ...flags.config };
  if (Object.keys(flags.memory).length > 0) {
    const memory: JsonObject = isObject(manifest.memory) ? { ...manifest.memory } : {};
    const set = (camel: string, snake: keyof ManifestFlags['memory']) => {
      if (flags.memory[snake] === undefined) return;
      takeField(memory, camel, snake);
      memory[snake] = flags.memory[snake];
    };
    set('maxPages', 'max_pages');
    set('maxVarBytes', 'max_var_bytes');
    set('maxHttpResponseBytes', 'max_http_response_bytes');
    manifest.memory = memory;
  }
  if (flags.timeoutMs !== undefined) {
    takeField(manifest, 'timeoutMs', 'timeout_ms');
    if (flags.timeoutMs > 0) manifest.timeout_ms = flags.timeoutMs;
  }
  return manifest;
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
    stderr.write(`[${level}] ${terminalText(message)}\n`);
  };
  return { trace: line('trace'), debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

/** A one-line list of the plug-in's functions, for a "no such function" hint. */
async function exportedFunctions(plugin: Plugin): Promise<string> {
  const names = (await plugin.getExports()).filter((e) => e.kind === 'function').map((e) => terminalName(e.name));
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
  const manifest = await buildManifest(request.source, request.manifest);
  const options: PluginOptions = { ...request.options, logger: stderrLogger(io.stderr) };
  if (request.wasiOutput) {
    options.wasiStdout = io.stdout;
    options.wasiStderr = io.stderr;
    // In a worker the guest waits for a slow reader of our stdout; on this thread the call
    // holds the event loop, and everything it writes would queue in memory meanwhile.
    options.runInWorker = true;
  }
  let plugin: Plugin;
  try {
    plugin = await createPlugin(manifest, options);
  } catch (err) {
    if (err instanceof LinkError) throw linkFailure(err, options.useWasi === true);
    // A plug-in that runs code while it is created (a WASI command's constructors, hs_init) can fail doing so.
    if (err instanceof PluginCallError && !(err instanceof FunctionNotFoundError)) throw new PluginFailure(err);
    throw err;
  }
  try {
    for (let i = 0; i < request.loop; i++) {
      let output: PluginOutput | null;
      try {
        output = await plugin.call(request.functionName, input);
      } catch (err) {
        if (err instanceof FunctionNotFoundError) throw new CliFailure(err.message, { cause: err, hints: [await exportedFunctions(plugin)] });
        throw new PluginFailure(err);
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
