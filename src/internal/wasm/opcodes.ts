/**
 * Opcodes of the WebAssembly binary format, by name, for the code that reads and writes
 * function bodies (the instrumentation, the generated helpers). Only the ones some code
 * refers to by name are here; the decoder's shape table covers the rest.
 *
 * @module
 */

/** The magic number (`\0asm`) and binary version 1 that start every module. */
export const MODULE_HEADER: readonly number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** One-byte opcodes. */
export const Op = {
  unreachable: 0x00,
  nop: 0x01,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  try: 0x06,
  catch: 0x07,
  throw: 0x08,
  rethrow: 0x09,
  throwRef: 0x0a,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  brTable: 0x0e,
  return: 0x0f,
  call: 0x10,
  callIndirect: 0x11,
  returnCall: 0x12,
  returnCallIndirect: 0x13,
  callRef: 0x14,
  returnCallRef: 0x15,
  delegate: 0x18,
  catchAll: 0x19,
  drop: 0x1a,
  select: 0x1b,
  selectTyped: 0x1c,
  tryTable: 0x1f,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  globalGet: 0x23,
  globalSet: 0x24,
  /** The first of the loads and stores (`i32.load`); they run to `i64.store32`. */
  i32Load: 0x28,
  i64Store32: 0x3e,
  memorySize: 0x3f,
  memoryGrow: 0x40,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32GtU: 0x4b,
  i32LeS: 0x4c,
  i32LeU: 0x4d,
  i32GeS: 0x4e,
  i32GeU: 0x4f,
  i64LtS: 0x53,
  i64LeS: 0x57,
  i64GtU: 0x56,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Or: 0x72,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Shl: 0x86,
  i64ExtendI32U: 0xad,
  refNull: 0xd0,
  refFunc: 0xd2,
  brOnNull: 0xd5,
  brOnNonNull: 0xd6,
  /** Prefix of saturating conversions, bulk memory and table instructions. */
  prefixFC: 0xfc,
  /** Prefix of SIMD instructions. */
  prefixFD: 0xfd,
  /** Prefix of atomic instructions. */
  prefixFE: 0xfe,
} as const;

/** Sub-opcodes after the 0xfc prefix: bulk memory and table instructions. */
export const OpFC = {
  memoryInit: 8,
  dataDrop: 9,
  memoryCopy: 10,
  memoryFill: 11,
  tableInit: 12,
  elemDrop: 13,
  tableCopy: 14,
  tableGrow: 15,
  tableSize: 16,
  tableFill: 17,
} as const;

/** Sub-opcodes after the 0xfe prefix that the instrumentation handles by name. */
export const OpFE = {
  memoryAtomicWait32: 1,
  memoryAtomicWait64: 2,
} as const;

/** Type constructors and value types as encoded. */
export const TypeCode = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
  funcref: 0x70,
  externref: 0x6f,
  /** `(ref null ht)`, followed by its heap type. */
  refNull: 0x63,
  /** `(ref ht)`, followed by its heap type. */
  ref: 0x64,
  func: 0x60,
  /** The empty block type. */
  void: 0x40,
  /** Garbage-collection type forms, which plughost refuses: `rec`, `sub final`, `sub`, `array`, `struct`. */
  rec: 0x4e,
  subFinal: 0x4f,
  sub: 0x50,
  array: 0x5e,
  struct: 0x5f,
} as const;
