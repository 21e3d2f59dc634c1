/**
 * The plughost command line, as a function: `run(argv, io)` does everything `plughost` does
 * and resolves to the exit status, so tests drive it in-process with captured streams and
 * `bin.ts` only wires it to the process.
 *
 * ```ts
 * const status = await run(['call', 'count-vowels.wasm', 'count_vowels', '--input', 'Hello'], {
 *   stdout: process.stdout,
 *   stderr: process.stderr,
 *   stdin: process.stdin,
 * });
 * ```
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipLeadingGlobalFlags, UsageError } from './args.js';
import { callCommand } from './call.js';
import { describeFailure, exitStatusOf } from './failure.js';
import { infoCommand } from './info.js';
import { type CliIo, writeOut } from './io.js';

export type { CliIo, OutputStream } from './io.js';

export const USAGE = `Usage: plughost <command> [arguments] [flags]

Run Extism WebAssembly plug-ins.

Commands:
  call <wasm | manifest.json | url> <function>
              call an export of a plug-in and write its output to stdout
  info <wasm> list a module's exports and imports, and whether plughost can run it

Flags:
  -h, --help  show this help; plughost <command> --help shows a command's
  --version   print plughost's version
  --github-token T, -v, --verbose, -q, --quiet
              extism's global flags: accepted here and after any command, and ignored

Exit status: 0 success; 1 the plug-in's call failed (its exit code, if any, is printed on
stderr); 2 usage error; 3 the plug-in could not be run. plughost call --help says more.
`;

const COMMANDS: Record<string, (argv: readonly string[], io: CliIo) => Promise<number>> = {
  call: callCommand,
  info: infoCommand,
};

/** plughost's version, from the package.json above this file (in src/, build/src/ or dist/). */
export function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'plughost' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; look one folder up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = skipLeadingGlobalFlags(argv);
  if (first === undefined) {
    await writeOut(io.stderr, USAGE);
    return 2;
  }
  if (first === '-h' || first === '--help') {
    await writeOut(io.stdout, USAGE);
    return 0;
  }
  if (first === '--version') {
    await writeOut(io.stdout, `plughost ${version()}\n`);
    return 0;
  }
  if (first === 'help') {
    // `plughost help call` is `plughost call --help`.
    const topic = rest[0];
    if (topic === undefined) {
      await writeOut(io.stdout, USAGE);
      return 0;
    }
    if (!Object.hasOwn(COMMANDS, topic)) throw new UsageError(`no command ${JSON.stringify(topic)}; the commands are ${Object.keys(COMMANDS).join(', ')}`);
    return COMMANDS[topic]!(['--help'], io);
  }
  if (first.startsWith('-'))
    throw new UsageError(`unknown flag ${first.split('=')[0]}; flags other than --help, --version and extism's global ones go after the command`);
  if (!Object.hasOwn(COMMANDS, first)) {
    throw new UsageError(`unknown command ${JSON.stringify(first)}; the commands are ${Object.keys(COMMANDS).join(', ')}`);
  }
  return COMMANDS[first]!(rest, io);
}

/**
 * Run the plughost CLI with `argv` (the arguments after the program name). Output goes to
 * `io.stdout`; errors, as an `Error: <message>` line and more, and plug-in log messages go to
 * `io.stderr`. Resolves to the exit status: 0 success; 1 a failed call (the plug-in's own exit
 * code is printed, never returned); 2 a usage error; 3 a plug-in that could not be run. Never
 * rejects.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    try {
      await writeOut(io.stderr, `${describeFailure(err).join('\n')}\n`);
    } catch {
      // stderr is gone too; the exit status still tells
    }
    return exitStatusOf(err);
  }
}
