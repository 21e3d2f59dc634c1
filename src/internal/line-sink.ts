// A WASI guest's stdout/stderr, cut into lines for the application's callback or stream.
// Guests write in arbitrary chunks; applications want whole lines.

/** Where guest output goes: a function called once per line (without its newline), or a stream. */
export type OutputTarget = ((line: string) => void) | { write(chunk: string): unknown };

export interface LineSink {
  /** Take a chunk of guest output (the caller may reuse the bytes afterwards). */
  write(chunk: Uint8Array): void;
  /** Emit a last line that has no newline yet (at the end of a call). */
  flush(): void;
}

export function createLineSink(target: OutputTarget): LineSink {
  const decoder = new TextDecoder();
  const emit = typeof target === 'function' ? target : (line: string) => target.write(`${line}\n`);
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
    },
    flush() {
      pending += decoder.decode();
      if (pending !== '') emit(pending);
      pending = '';
    },
  };
}
