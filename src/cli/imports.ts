// What plughost can give a plug-in, import by import, as `info` reports it and as `call` explains
// a link failure. The signature tables are the library's own (kernel.ts, host-env.ts).
import { DEFAULT_HOST_NAMESPACE as EXTISM_USER } from '../host-function.js';
import { HOST_ENV_SIGNATURES as HOST_ENV_TABLE } from '../internal/host-env.js';
import { KERNEL_SIGNATURES as KERNEL_TABLE } from '../internal/kernel/kernel.js';
import { EXTISM_ENV, WASI_NAMESPACE as WASI } from '../internal/linker.js';
import { funcTypeTable } from '../internal/signature-table.js';
import { type FuncType, formatFuncType, sameFuncType } from '../internal/wasm/reader.js';

/** The namespaces the CLI reports on: the kernel's and host's, the application's, WASI. */
export { EXTISM_ENV, EXTISM_USER, WASI };

/** Functions of `extism:host/env` served by the kernel (memory, input, output, error). */
export const KERNEL_SIGNATURES = funcTypeTable(KERNEL_TABLE);

/** Functions of `extism:host/env` served by the host (config, vars, HTTP, logging). */
export const HOST_ENV_SIGNATURES = funcTypeTable(HOST_ENV_TABLE);

/** An import as far as the CLI needs to know it; `type` when it is a function whose type is known. */
export interface ImportRef {
  module: string;
  name: string;
  kind?: string;
  type?: FuncType;
}

/** Why an import can or cannot be satisfied by `plughost call`. */
export type ImportCategory =
  | 'kernel' // extism:host/env, served by the kernel
  | 'host-env' // extism:host/env, served by plughost's host functions
  | 'wasi' // wasi_snapshot_preview1: satisfied with --wasi
  | 'user' // extism:host/user: the application's host functions
  | 'env-unknown' // extism:host/env name plughost does not know
  | 'env-signature' // known extism:host/env name, other signature
  | 'legacy' // pre-1.0 Extism ABI (env.extism_*)
  | 'as-abort' // AssemblyScript's env.abort
  | 'other'; // another namespace, or a non-function import

/** What {@link classifyImport} says of one import. */
export interface ImportVerdict {
  category: ImportCategory;
  /** Whether `plughost call` can satisfy it (WASI ones only with --wasi). */
  satisfiable: boolean;
  /** One line on why not, for unsatisfiable imports. */
  reason?: string;
}

/** Classify one import of a plug-in's main module. */
export function classifyImport(imp: ImportRef): ImportVerdict {
  const isFunction = imp.kind === undefined || imp.kind === 'function';
  if (imp.module === EXTISM_ENV) {
    if (!isFunction) return { category: 'other', satisfiable: false, reason: `a ${imp.kind}, but ${EXTISM_ENV} has only functions` };
    const known = KERNEL_SIGNATURES[imp.name] ?? HOST_ENV_SIGNATURES[imp.name];
    if (!Object.hasOwn(KERNEL_SIGNATURES, imp.name) && !Object.hasOwn(HOST_ENV_SIGNATURES, imp.name)) {
      return { category: 'env-unknown', satisfiable: false, reason: `not a ${EXTISM_ENV} function plughost knows (a PDK newer than plughost, or a typo)` };
    }
    if (imp.type !== undefined && known !== undefined && !sameFuncType(imp.type, known)) {
      return {
        category: 'env-signature',
        satisfiable: false,
        reason: `plughost provides ${formatFuncType(known)}, the module imports ${formatFuncType(imp.type)}`,
      };
    }
    return { category: Object.hasOwn(KERNEL_SIGNATURES, imp.name) ? 'kernel' : 'host-env', satisfiable: true };
  }
  if (imp.module === WASI) {
    if (!isFunction) return { category: 'other', satisfiable: false, reason: `a ${imp.kind}, but WASI has only functions` };
    return { category: 'wasi', satisfiable: true };
  }
  if (imp.module === EXTISM_USER && isFunction) {
    return { category: 'user', satisfiable: false, reason: 'a host function of the application the plug-in was written for; the CLI has none' };
  }
  if (imp.module === 'env' && imp.name.startsWith('extism_')) {
    return { category: 'legacy', satisfiable: false, reason: 'a function of the pre-1.0 Extism ABI (namespace "env"); plughost implements the current one' };
  }
  if (imp.module === 'env' && imp.name === 'abort' && isFunction) {
    return { category: 'as-abort', satisfiable: false, reason: "AssemblyScript's runtime abort handler, which no Extism host provides" };
  }
  if (!isFunction) return { category: 'other', satisfiable: false, reason: `an imported ${imp.kind}; plughost provides functions only` };
  return {
    category: 'other',
    satisfiable: false,
    reason: `a host function in namespace "${imp.module}" (or a module of a multi-module manifest); the CLI has none`,
  };
}

/** Split `module.name` (as {@link LinkError.missing} lists them) back into its parts. */
export function splitQualified(qualified: string): ImportRef {
  for (const module of [EXTISM_ENV, EXTISM_USER, WASI]) {
    if (qualified.startsWith(`${module}.`)) return { module, name: qualified.slice(module.length + 1) };
  }
  const dot = qualified.indexOf('.');
  return dot < 0 ? { module: '', name: qualified } : { module: qualified.slice(0, dot), name: qualified.slice(dot + 1) };
}

function list(imports: readonly ImportRef[]): string {
  const names = imports.map((i) => `${i.module}.${i.name}`);
  return names.length <= 4 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}

/**
 * One hint per kind of problem among `imports` (the unsatisfied ones), saying what to do
 * about it. `wasiEnabled`: whether --wasi was given (a WASI import is then not a problem).
 */
export function importHints(imports: readonly ImportRef[], wasiEnabled: boolean): string[] {
  const groups = new Map<ImportCategory, ImportRef[]>();
  for (const imp of imports) {
    const { category } = classifyImport(imp);
    if (category === 'wasi' && wasiEnabled) continue;
    const group = groups.get(category);
    if (group === undefined) groups.set(category, [imp]);
    else group.push(imp);
  }
  const hints: string[] = [];
  for (const [category, group] of groups) {
    switch (category) {
      case 'wasi':
        hints.push('the plug-in uses WASI: pass --wasi');
        break;
      case 'user':
        hints.push(
          `${list(group)}: host functions the plug-in expects from its application; the plughost CLI has none (with the plughost library, pass them in the \`functions\` option)`,
        );
        break;
      case 'env-unknown':
        hints.push(`${list(group)}: not ${EXTISM_ENV} functions this plughost knows; was the plug-in built with a newer Extism PDK?`);
        break;
      case 'env-signature':
        hints.push(`${list(group)}: imported with a signature other than the Extism ABI's; run \`plughost info\` on the module to compare`);
        break;
      case 'legacy':
        hints.push(`${list(group)}: the plug-in was built for the pre-1.0 Extism ABI; rebuild it with a current PDK`);
        break;
      case 'as-abort':
        hints.push(
          'env.abort: an AssemblyScript plug-in keeps its runtime abort handler; build it with `--use abort=` (as the Extism AssemblyScript PDK recommends)',
        );
        break;
      case 'kernel':
      case 'host-env':
        break;
      case 'other':
        hints.push(
          `${list(group)}: plughost provides only ${EXTISM_ENV}, and ${WASI} with --wasi; other imports need a manifest module of that name, or the plughost library with host functions`,
        );
        break;
    }
  }
  return hints;
}
