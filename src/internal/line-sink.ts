// A WASI guest's stdout/stderr, cut into lines for the application's callback or stream.
// Guests write in arbitrary chunks; applications want whole lines.

import type { OutputTarget } from '../options.js';

export type { OutputTarget };

/** Guest output in, whole lines out. */
export interface LineSink {
  /** Take a chunk of guest output (the caller may reuse the bytes afterwards). */
  write(chunk: Uint8Array): void;
  /** Emit a last line that has no newline yet (at the end of a call). */
  flush(): void;
}

/** Delivers one line (given without its newline) to `target`: as is to a function, with `\n` to a stream. */
export function lineWriter(target: OutputTarget): (line: string) => void {
  return typeof target === 'function' ? target : (line: string) => target.write(`${line}\n`);
}

/** Longest line handed to the target, in UTF-16 code units; a longer one is handed over in pieces of this length. */
export const MAX_LINE_CHARS = 1024 * 1024;

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

/** A sink that cuts guest output into lines for `target` (lines longer than {@link MAX_LINE_CHARS} in pieces). */
export function createLineSink(target: OutputTarget): LineSink {
  const decoder = new TextDecoder();
  const emit = lineWriter(target);
  let pending = '';
  return {
    write(chunk) {
      pending += decoder.decode(chunk, { stream: true });
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        emit(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
      // A guest that never writes a newline would have the host hold all it wrote (until a
      // string too long for the engine failed the call): a long line goes out in pieces.
      while (pending.length >= MAX_LINE_CHARS) {
        // never between the two halves of a surrogate pair
        const cut = isHighSurrogate(pending.charCodeAt(MAX_LINE_CHARS - 1)) ? MAX_LINE_CHARS - 1 : MAX_LINE_CHARS;
        emit(pending.slice(0, cut));
        pending = pending.slice(cut);
      }
    },
    flush() {
      pending += decoder.decode();
      if (pending !== '') emit(pending);
      pending = '';
    },
  };
}
