// The streams the CLI talks to: process.stdout/stderr/stdin in bin.ts, captured ones in tests.
import { concatBytes } from '../internal/bytes.js';

/** Anything with a Node-style `write` (a `Writable`, `process.stdout`, a test capture). */
export interface OutputStream {
  write(chunk: Uint8Array | string): boolean | void;
  /** When present (Node streams), used to wait for `drain` after a full buffer. */
  once?(event: 'drain' | 'error' | 'close', listener: () => void): unknown;
  off?(event: 'drain' | 'error' | 'close', listener: () => void): unknown;
  /** True for a terminal (as on `process.stdout`). */
  isTTY?: boolean;
}

/** Where `run` reads and writes. `stdin` is needed only for `--stdin` / `--input-file -`. */
export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  stdin?: AsyncIterable<Uint8Array | string>;
}

/**
 * Write `chunk`, then wait while the stream's buffer is full, so a large output (or a long
 * `--loop`) piped into a slow reader does not pile up in memory.
 */
export async function writeOut(stream: OutputStream, chunk: Uint8Array | string): Promise<void> {
  if (stream.write(chunk) !== false || stream.once === undefined) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      stream.off?.('drain', done);
      stream.off?.('error', done);
      stream.off?.('close', done);
      resolve();
    };
    stream.once!('drain', done);
    stream.once!('error', done);
    stream.once!('close', done);
  });
}

/** Every byte of `input`, concatenated. */
export async function readAll(input: AsyncIterable<Uint8Array | string>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const encoder = new TextEncoder();
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    chunks.push(bytes);
    total += bytes.byteLength;
  }
  return concatBytes(chunks, total);
}

/** The longest text of a plug-in's (a log message, an error message) the CLI prints, in characters. */
const TERMINAL_TEXT_LIMIT = 65_536;
/** C0 controls but tab and newline, DEL, C1 controls, and the bidi embeddings, overrides and isolates. */
const UNSAFE_CHARACTER = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/u;

/**
 * A plug-in's text as the CLI prints it on stderr, where a terminal would act on it: control
 * characters are written out as escapes (`\x1b`, `\u{202e}`), so a message cannot retitle the
 * terminal, clear it or move the cursor; every line after its first is indented, so none passes
 * for a line of the CLI's own (`Error: ...`, `[warn] ...`); and past 64 Ki characters it is cut,
 * saying how many more there were.
 */
export function terminalText(text: string): string {
  return escapeForTerminal(text, TERMINAL_TEXT_LIMIT, false);
}

/** The longest name of a plug-in's (an export, an import) the CLI prints, in characters. */
const TERMINAL_NAME_LIMIT = 1024;

/**
 * A name the plug-in chose (an export's, an import's) as the CLI prints it in a table or a
 * list: as {@link terminalText}, but on one line (tab and newline written as escapes too), and
 * cut at 1 Ki characters.
 */
export function terminalName(name: string): string {
  return escapeForTerminal(name, TERMINAL_NAME_LIMIT, true);
}

function escapeForTerminal(text: string, limit: number, oneLine: boolean): string {
  const head = text.length > limit ? text.slice(0, limit) : text;
  if (head === text && !UNSAFE_CHARACTER.test(text) && !/[\n\t]/.test(text)) return text;
  let out = '';
  let taken = 0;
  for (const character of head) {
    if (out.length >= limit) break;
    taken += character.length;
    const code = character.codePointAt(0)!;
    if (!oneLine && character === '\n') out += '\n  ';
    else if (!UNSAFE_CHARACTER.test(character) && !(oneLine && (character === '\n' || character === '\t'))) out += character;
    else if (code < 0x100) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += `\\u{${code.toString(16)}}`;
  }
  return taken < text.length ? `${out}… (${text.length - taken} more characters)` : out;
}
