// Resolves every import of every module of a plug-in, once, at creation: the kernel, the
// host-env functions, user host functions (through i64 trampolines), WASI, the interrupt
// hook, and other modules of the manifest. Missing or mistyped imports are all reported
// together. The result is a plan that can instantiate the plug-in again cheaply (after a
// trap, a timeout or a WASI `_start`).
import type { CallContext } from '../call-context.js';
import { LinkError } from '../errors.js';
import type { HostFunction } from '../host-function.js';
import type { HostFunctionMap } from '../options.js';
import { HOST_ENV_SIGNATURES, type HostEnvFunctionName } from './host-env.js';
import { asyncAdapter, exactAdapter, fastAdapter, needsTrampoline, TrampolineBatch } from './host-trampolines.js';
import { hasJspi, isAsyncFunction, NO_JSPI_HINT, suspending } from './jspi.js';
import type { Kernel } from './kernel/kernel.js';
import { acquireMemory } from './memory-pool.js';
import { type LoadedModule, moduleExports, moduleImports, type OwnMemory } from './module-loader.js';
import type { Wasi } from './wasi/index.js';
import { TICK_MODULE, TICK_NAME } from './wasm/instrument.js';
import { MERGED_KERNEL_MODULE } from './wasm/kernel-merge.js';
import { OWN_MEMORY_MODULE, OWN_MEMORY_NAME } from './wasm/memory-limit.js';
import { type FuncType, formatFuncType, sameFuncType } from './wasm/reader.js';

/** The namespace of the Extism kernel and host functions. */
export const EXTISM_ENV = 'extism:host/env';
/** The namespace of WASI preview 1. */
export const WASI_NAMESPACE = 'wasi_snapshot_preview1';

type JsFunction = (...args: any[]) => any;

/** Everything the linker binds imports to. */
export interface LinkInputs {
  modules: LoadedModule[];
  mainIndex: number;
  kernel: Kernel;
  /** The host-env functions of this plug-in's kernel slot, already callable from wasm. */
  envFunctions: Record<HostEnvFunctionName, WebAssembly.ImportValue>;
  functions: HostFunctionMap;
  hostFunctions: readonly HostFunction[];
  callContext: CallContext;
  useWasi: boolean;
  /** Called when an instrumented module's budget runs out (timeouts, fuel, cancellation). */
  tick: () => void;
  /**
   * Where JSPI exists: called as an async import starts; what it returns runs when the import's
   * promise settles, before the guest resumes, and throws when the call was given up (timed
   * out, aborted), so the abandoned guest unwinds.
   */
  guard?: () => () => void;
  /** Where JSPI exists and the engine wants it: `http_request` as an awaited import (handles in, handle out). */
  asyncHttpRequest?: (requestHandle: number, bodyHandle: number) => Promise<number>;
}

/** A module as its manifest names it, for messages. */
const moduleLabel = (modules: readonly LoadedModule[], index: number) =>
  modules[index]!.name === undefined ? `wasm[${index}]` : `module "${modules[index]!.name}"`;

/** `module.name`, for messages and labels (made only where needed: most imports resolve without one). */
const importName = (imp: { module: string; name: string }) => `${imp.module}.${imp.name}`;

/** How one import is satisfied. */
type Binding =
  | { kind: 'value'; value: WebAssembly.ImportValue }
  /** A whole import namespace, bound as it is (the kernel merged into the module: its memory and globals). */
  | { kind: 'namespace'; value: Record<string, WebAssembly.ImportValue> }
  /** The module's own memory, which the loader made an import: a fresh or pooled one per instantiation. */
  | { kind: 'own-memory'; limits: OwnMemory }
  | { kind: 'wasi'; name: string }
  | { kind: 'module'; target: number; name: string; importKind: string };

/** A binding resolved anew at each instantiation (the fixed ones go into the prepared import object). */
type PerInstanceBinding = Exclude<Binding, { kind: 'value' } | { kind: 'namespace' }>;

/** What a trampolined import is bound to until its batch is finished, which replaces it before the plan is returned. */
const UNBOUND_TRAMPOLINE: Binding = {
  kind: 'value',
  value: () => {
    throw new LinkError('plughost: a trampolined import was called before its trampoline was made');
  },
};

/** How every import of every module is satisfied, computed once; see {@link instantiate}. */
export interface LinkPlan {
  /** Module indices in instantiation order (dependencies first). */
  order: number[];
  bindings: Map<number, { module: string; name: string; binding: Binding }[]>;
  /** Modules whose imports form a cycle reach each other through late-bound forwarders. */
  cyclic: Set<string>;
  /**
   * Per module, its import object with every fixed value in place, made at the first
   * instantiation and reused (an Instance reads it once, at construction), and the imports
   * set anew each time (memory, WASI, other modules' instances).
   */
  prepared: Map<
    number,
    { imports: Record<string, Record<string, WebAssembly.ImportValue>>; perInstance: { module: string; name: string; binding: PerInstanceBinding }[] }
  >;
  /** Some import suspends the guest (JSPI): exports must be called through `WebAssembly.promising`. */
  suspends: boolean;
}

/**
 * Resolve every import. Throws {@link LinkError} listing each problem (missing imports as
 * `module.name`). Module linking: imports whose module name is another manifest module's name.
 */
export function link(inputs: LinkInputs): LinkPlan {
  const { modules, kernel, callContext } = inputs;
  const names = new Map<string, number>();
  modules.forEach((m, i) => {
    if (m.name !== undefined) names.set(m.name, i);
  });
  const kernelFunctions = kernel.guestFunctions();
  const typed = new Map<string, HostFunction>();
  for (const f of inputs.hostFunctions) typed.set(`${f.namespace}\u0000${f.name}`, f);

  const trampolines = new TrampolineBatch();
  const problems: string[] = [];
  const missing: string[] = [];
  const bindings = new Map<number, { module: string; name: string; binding: Binding }[]>();
  // Trampolined imports exist only once the batch is finished: bound then, from their thunk.
  const thunks: { entry: { binding: Binding }; thunk: () => WebAssembly.ImportValue }[] = [];
  let suspends = false;
  const guard = inputs.guard ?? (() => () => {});

  const reachable = new Set<number>();
  const visit = (index: number) => {
    if (reachable.has(index)) return;
    reachable.add(index);
    const module = modules[index]!;
    const imports: readonly { module: string; name: string; kind: string; type?: FuncType }[] = moduleImports(module);
    const list: { module: string; name: string; binding: Binding }[] = [];
    bindings.set(index, list);
    // A command (`_start`) and a reactor (`_initialize`) at once: initializing it would run
    // the reactor's setup under the command's feet, or the command would run on a set-up libc.
    const exported = moduleExports(module);
    if (exported.some((e) => e.name === '_start' && e.kind === 'function') && exported.some((e) => e.name === '_initialize' && e.kind === 'function')) {
      throw new LinkError(
        `cannot link the plug-in: ${moduleLabel(modules, index)} exports both _start (a WASI command) and _initialize (a WASI reactor); build it as one or the other`,
      );
    }
    for (const imp of imports) {
      let type = imp.kind === 'function' ? imp.type : undefined;
      const push = (binding: Binding) => list.push({ module: imp.module, name: imp.name, binding });
      const pushThunk = (thunk: () => WebAssembly.ImportValue) => {
        const entry: { module: string; name: string; binding: Binding } = { module: imp.module, name: imp.name, binding: UNBOUND_TRAMPOLINE };
        list.push(entry);
        thunks.push({ entry, thunk });
      };

      const target = names.get(imp.module);
      if (target !== undefined) {
        const provider = modules[target]!;
        const exported = moduleExports(provider).find((e) => e.name === imp.name);
        if (exported === undefined) missing.push(importName(imp));
        else if (exported.kind !== imp.kind)
          problems.push(`${importName(imp)}: module "${imp.module}" exports "${imp.name}" as a ${exported.kind}, but it is imported as a ${imp.kind}`);
        else push({ kind: 'module', target, name: imp.name, importKind: imp.kind });
        visit(target);
        continue;
      }
      if (imp.module === EXTISM_ENV) {
        if (imp.kind === 'function' && Object.hasOwn(kernelFunctions, imp.name)) push({ kind: 'value', value: kernelFunctions[imp.name]! });
        else if (imp.kind === 'function' && imp.name === 'http_request' && inputs.asyncHttpRequest !== undefined) {
          const request = inputs.asyncHttpRequest;
          // i64 handles arrive as BigInts (no trampoline); one past 2^53 is never live, which Number keeps so
          push({
            kind: 'value',
            value: suspending(async (req: bigint, body: bigint) => {
              const check = guard();
              let handle: number;
              try {
                handle = await request(Number(req), Number(body));
              } finally {
                check();
              }
              return BigInt(handle);
            }),
          });
          suspends = true;
        } else if (imp.kind === 'function' && Object.hasOwn(HOST_ENV_SIGNATURES, imp.name))
          push({ kind: 'value', value: inputs.envFunctions[imp.name as HostEnvFunctionName] });
        else missing.push(importName(imp));
        continue;
      }
      if (imp.module === WASI_NAMESPACE) {
        if (!inputs.useWasi) missing.push(importName(imp));
        else push({ kind: 'wasi', name: imp.name });
        continue;
      }
      if (imp.module === OWN_MEMORY_MODULE && imp.name === OWN_MEMORY_NAME && imp.kind === 'memory' && module.memory !== undefined) {
        push({ kind: 'own-memory', limits: module.memory });
        continue;
      }
      if (imp.module === TICK_MODULE && imp.name === TICK_NAME && module.instrumented) {
        push({ kind: 'value', value: inputs.tick });
        continue;
      }
      const declared = typed.get(`${imp.module}\u0000${imp.name}`);
      const loose = inputs.functions[imp.module]?.[imp.name];
      const callback = declared?.callback ?? loose;
      if (callback === undefined || imp.kind !== 'function') {
        missing.push(importName(imp));
        continue;
      }
      if (declared !== undefined && type !== undefined && !sameFuncType(type, declared)) {
        problems.push(`${importName(imp)}: the plug-in imports ${formatFuncType(type)}, the host function is declared ${formatFuncType(declared)}`);
        continue;
      }
      // A module given compiled does not say its import types: a declared host function then
      // goes by its declaration (a trampoline typed so is checked by the instantiation itself).
      if (type === undefined && declared !== undefined) type = { params: [...declared.params], results: [...declared.results] };
      if (isAsyncFunction(callback)) {
        if (!hasJspi()) {
          problems.push(`${importName(imp)}: the host function is async, ${NO_JSPI_HINT}`);
          continue;
        }
        push({ kind: 'value', value: suspending(asyncAdapter(callback, callContext, type, guard)) });
        suspends = true;
        continue;
      }
      if (type !== undefined && needsTrampoline(type)) {
        pushThunk(trampolines.add(type, (wide) => fastAdapter(callback, callContext, type, wide, importName(imp)), exactAdapter(callback, callContext, type)));
      } else {
        push({ kind: 'value', value: exactAdapter(callback, callContext, type) });
      }
    }
    // The kernel merged into the module shares this plug-in's kernel instance's memory and
    // state: the whole namespace at once (one object per kernel: a per-name import object
    // made at each creation cost more than the instantiation).
    if (module.kernelImports !== undefined)
      list.push({ module: MERGED_KERNEL_MODULE, name: '', binding: { kind: 'namespace', value: kernel.mergedImports() } });
  };
  visit(inputs.mainIndex);

  if (missing.length > 0 || problems.length > 0) {
    const lines = [...missing.map((m) => `missing import ${m}`), ...problems];
    const hint = missing.some((m) => m.startsWith(`${WASI_NAMESPACE}.`)) && !inputs.useWasi ? ' (the plug-in uses WASI: pass useWasi: true)' : '';
    throw new LinkError(`cannot link the plug-in: ${lines.join('; ')}${hint}`, missing);
  }

  trampolines.finish();
  for (const { entry, thunk } of thunks) entry.binding = { kind: 'value', value: thunk() };

  // Dependencies first; a back edge marks a cycle, bridged with late-bound forwarders.
  const moduleName = (index: number) => moduleLabel(modules, index);
  const order: number[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  const cyclic = new Set<string>();
  const sort = (index: number) => {
    state.set(index, 'visiting');
    for (const { binding } of bindings.get(index) ?? []) {
      if (binding.kind !== 'module') continue;
      const s = state.get(binding.target);
      if (s === 'visiting') {
        if (binding.importKind !== 'function') {
          throw new LinkError(
            `cannot link the plug-in: ${moduleName(index)} imports the ${binding.importKind} "${binding.name}" from ${moduleName(binding.target)}, which depends on it in turn; only functions may be imported circularly`,
          );
        }
        cyclic.add(`${index}:${binding.target}:${binding.name}`);
      } else if (s === undefined) {
        sort(binding.target);
      }
    }
    state.set(index, 'done');
    order.push(index);
  };
  sort(inputs.mainIndex);
  return { order, bindings, cyclic, prepared: new Map(), suspends };
}

/** Instances of one instantiation of a plug-in. */
export interface Instantiated {
  main: WebAssembly.Instance;
  all: WebAssembly.Instance[];
  /** The memories handed to modules as their own (see memory-pool.ts), for giving back when these instances are done. */
  ownMemories: { memory: WebAssembly.Memory; limits: OwnMemory }[];
}

/**
 * Instantiate the plug-in from its plan. `wasiFor(index)` gives the WASI of a module (a
 * fresh one per instantiation), whose memory is bound once the module exists.
 */
export function instantiate(plan: LinkPlan, modules: LoadedModule[], mainIndex: number, wasiFor: (index: number) => Wasi | undefined): Instantiated {
  const instances = new Map<number, WebAssembly.Instance>();
  const all: WebAssembly.Instance[] = [];
  const ownMemories: Instantiated['ownMemories'] = [];
  for (const index of plan.order) {
    let prepared = plan.prepared.get(index);
    if (prepared === undefined) {
      prepared = { imports: {}, perInstance: [] };
      for (const { module, name, binding } of plan.bindings.get(index) ?? []) {
        if (binding.kind === 'value') (prepared.imports[module] ??= {})[name] = binding.value;
        else if (binding.kind === 'namespace') prepared.imports[module] = binding.value;
        else prepared.perInstance.push({ module, name, binding });
      }
      plan.prepared.set(index, prepared);
    }
    const { imports } = prepared;
    const wasi = wasiFor(index);
    for (const { module, name, binding } of prepared.perInstance) {
      let value: WebAssembly.ImportValue;
      if (binding.kind === 'own-memory') {
        const memory = acquireMemory(binding.limits);
        ownMemories.push({ memory, limits: binding.limits });
        // known before the module exists: WASI works even from its start function
        wasi?.setMemory(memory);
        value = memory;
      } else if (binding.kind === 'wasi') value = wasi!.imports[name] as WebAssembly.ImportValue;
      else if (plan.cyclic.has(`${index}:${binding.target}:${binding.name}`)) {
        const { target, name: exportName } = binding;
        value = (...args: unknown[]) => (instances.get(target)!.exports[exportName] as JsFunction)(...args);
      } else value = instances.get(binding.target)!.exports[binding.name] as WebAssembly.ImportValue;
      (imports[module] ??= {})[name] = value;
    }
    const instance = new WebAssembly.Instance(modules[index]!.module, imports);
    if (wasi !== undefined && modules[index]!.memory === undefined && instance.exports.memory instanceof WebAssembly.Memory)
      wasi.setMemory(instance.exports.memory);
    instances.set(index, instance);
    all.push(instance);
  }
  return { main: instances.get(mainIndex)!, all, ownMemories };
}
