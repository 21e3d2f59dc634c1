// `plughost info`: what a module exports and imports, which Extism functions it uses, and
// whether `plughost call` can satisfy every import. Reads the module's header sections only;
// nothing is compiled or run.
import { readFile } from 'node:fs/promises';
import { fileErrorReason } from '../internal/platform/node/host.js';
import { type FuncType, formatFuncType, type ModuleInfo, readModule, WasmFormatError } from '../internal/wasm/reader.js';
import { booleanFlag, EXTISM_GLOBAL_FLAGS, type FlagSpec, parseArgs, UsageError } from './args.js';
import { CliFailure } from './failure.js';
import { classifyImport, EXTISM_ENV, EXTISM_USER, type ImportCategory, importHints, WASI } from './imports.js';
import { type CliIo, terminalName, terminalText, writeOut } from './io.js';

const INFO_USAGE = `Usage: plughost info <wasm> [--json]

List a WebAssembly module's exports and imports with their signatures, the Extism functions
it uses (extism:host/env, extism:host/user, WASI), and whether plughost call can satisfy
every import. Nothing is run.

Flags:
  --json        print one JSON object instead of text
  -h, --help    show this help

Exit status: 0 when the module was read (whatever it imports); 3 when it cannot be read;
2 for a usage error.
`;

const FLAGS: Record<string, FlagSpec> = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...EXTISM_GLOBAL_FLAGS,
};

/** One export, as `info --json` prints it. */
interface ExportReport {
  name: string;
  kind: string;
  signature?: string;
  params?: string[];
  results?: string[];
  /** A function `plughost call` can call: no parameters, returns nothing or one i32. */
  callable?: boolean;
}

/** One import, as `info --json` prints it. */
interface ImportReport {
  module: string;
  name: string;
  kind: string;
  signature?: string;
  params?: string[];
  results?: string[];
  /** Who provides it: `kernel`, `host-env`, `wasi`, or why nobody does (`user`, `env-unknown`, ...). */
  category: ImportCategory;
  /** Whether `plughost call` can satisfy it (a WASI import: with --wasi). */
  satisfiable: boolean;
  reason?: string;
}

/** The whole `info --json` object. */
interface InfoReport {
  path: string;
  size: number;
  exports: ExportReport[];
  imports: ImportReport[];
  /** Names imported from each Extism namespace, sorted. */
  extism: { env: string[]; user: string[]; wasi: string[] };
  /** Whether the module imports WASI, so that `plughost call` needs --wasi. */
  needsWasi: boolean;
  /** Whether `plughost call` can satisfy every import (with --wasi when needsWasi). */
  satisfiable: boolean;
  /** The imports it cannot satisfy, as `module.name`. */
  unsatisfied: string[];
  /** What to do about them. */
  hints: string[];
}

function signature(type: FuncType | undefined): Pick<ExportReport, 'signature' | 'params' | 'results'> {
  return type === undefined ? {} : { signature: formatFuncType(type), params: [...type.params], results: [...type.results] };
}

function isCallable(type: FuncType): boolean {
  return type.params.length === 0 && (type.results.length === 0 || (type.results.length === 1 && type.results[0] === 'i32'));
}

/** Build the report of a module's bytes; throws the reader's {@link WasmFormatError}. */
function inspectModule(path: string, bytes: Uint8Array): InfoReport {
  const info: ModuleInfo = readModule(bytes);
  const exports: ExportReport[] = info.exports.map((e) =>
    e.kind === 'function' && e.type !== undefined
      ? { name: e.name, kind: e.kind, ...signature(e.type), callable: isCallable(e.type) }
      : { name: e.name, kind: e.kind },
  );
  const imports: ImportReport[] = info.imports.map((imp) => {
    const type = imp.kind === 'function' ? imp.type : undefined;
    const verdict = classifyImport({ module: imp.module, name: imp.name, kind: imp.kind, type });
    return {
      module: imp.module,
      name: imp.name,
      kind: imp.kind,
      ...signature(type),
      category: verdict.category,
      satisfiable: verdict.satisfiable,
      ...(verdict.reason === undefined ? {} : { reason: verdict.reason }),
    };
  });
  const names = (module: string) => [...new Set(imports.filter((i) => i.module === module && i.kind === 'function').map((i) => i.name))].sort();
  const unsatisfiedImports = imports.filter((i) => !i.satisfiable);
  return {
    path,
    size: bytes.byteLength,
    exports,
    imports,
    extism: { env: names(EXTISM_ENV), user: names(EXTISM_USER), wasi: names(WASI) },
    needsWasi: imports.some((i) => i.category === 'wasi'),
    satisfiable: unsatisfiedImports.length === 0,
    unsatisfied: unsatisfiedImports.map((i) => `${i.module}.${i.name}`),
    hints: importHints(unsatisfiedImports, true),
  };
}

const PROVIDERS: Record<ImportCategory, string> = {
  kernel: 'plughost (kernel)',
  'host-env': 'plughost (host function)',
  wasi: 'plughost WASI (with --wasi)',
  user: 'none',
  'env-unknown': 'none',
  'env-signature': 'none',
  legacy: 'none',
  'as-abort': 'none',
  other: 'none',
};

/** Left-aligned columns, two spaces apart; the last column is not padded. */
function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) => `  ${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}`.trimEnd());
}

/** The human-readable report. */
function formatReport(report: InfoReport): string {
  const lines: string[] = [`${report.path}: WebAssembly module, ${report.size} bytes`, ''];
  lines.push(`exports (${report.exports.length}):`);
  if (report.exports.length === 0) lines.push('  none');
  lines.push(
    ...table(
      report.exports.map((e) => [
        terminalName(e.name),
        e.signature ?? e.kind,
        e.callable === false ? '(not an Extism function: takes parameters or returns other than an i32)' : '',
      ]),
    ),
  );
  lines.push('', `imports (${report.imports.length}):`);
  if (report.imports.length === 0) lines.push('  none');
  // Grouped by namespace for reading; --json keeps the module's own order (the function indices).
  const byNamespace = [...report.imports].sort((a, b) => (a.module === b.module ? 0 : a.module < b.module ? -1 : 1));
  lines.push(...table(byNamespace.map((i) => [`${terminalName(i.module)}.${terminalName(i.name)}`, i.signature ?? i.kind, PROVIDERS[i.category]])));

  const used = (label: string, names: string[]) => `  ${label}: ${names.length === 0 ? 'none' : `${names.map(terminalName).join(', ')} (${names.length})`}`;
  lines.push(
    '',
    'Extism functions used:',
    used(EXTISM_ENV, report.extism.env),
    used(EXTISM_USER, report.extism.user),
    used(`WASI (${WASI})`, report.extism.wasi),
  );

  lines.push('');
  if (report.satisfiable) {
    lines.push(report.needsWasi ? 'plughost call can satisfy every import, with --wasi.' : 'plughost call can satisfy every import.');
  } else {
    const count = report.unsatisfied.length;
    lines.push(`plughost call cannot satisfy ${count} import${count === 1 ? '' : 's'}${report.needsWasi ? ' (the WASI ones need --wasi)' : ''}:`);
    lines.push(
      ...table(report.imports.filter((i) => !i.satisfiable).map((i) => [`${terminalName(i.module)}.${terminalName(i.name)}`, terminalText(i.reason ?? '')])),
    );
    for (const hint of report.hints) lines.push(`hint: ${terminalText(hint)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Run `plughost info`; returns the exit status (errors are thrown, and reported by run). */
export async function infoCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, FLAGS, 'info');
  if (booleanFlag(args, 'help')) {
    await writeOut(io.stdout, INFO_USAGE);
    return 0;
  }
  const [path, ...extra] = args.positionals;
  if (path === undefined) throw new UsageError('info needs the path of a .wasm file', 'info');
  if (extra.length > 0) throw new UsageError(`info takes one .wasm file; unexpected ${JSON.stringify(extra[0])}`, 'info');

  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (err) {
    throw new CliFailure(`cannot read ${path}: ${fileErrorReason(err)}`, { cause: err });
  }
  let report: InfoReport;
  try {
    report = inspectModule(path, bytes);
  } catch (err) {
    if (!(err instanceof WasmFormatError)) throw err;
    const looksJson = bytes[0] === 0x7b || path.toLowerCase().endsWith('.json');
    throw new CliFailure(`${path}: ${err.message}`, {
      cause: err,
      hints: looksJson ? ["info reads a .wasm file, not a manifest; give it the manifest's main module"] : [],
    });
  }
  await writeOut(io.stdout, booleanFlag(args, 'json') ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return 0;
}
