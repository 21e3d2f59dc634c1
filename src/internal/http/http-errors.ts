// The HTTP failures that have no class in src/errors.ts, and how every HTTP failure crosses the
// boundary to and from the helper worker (as `{code, ...}`, rebuilt into the same class).
import { HttpDeniedError, MemoryLimitError, PlughostError } from '../../errors.js';

/**
 * An HTTP request was still running when the call's deadline came. The engine turns it into
 * the call's `TimeoutError`; the request itself has been aborted.
 */
export class HttpDeadlineExceeded extends PlughostError {
  readonly url: string;
  constructor(url: string) {
    super('PLUGHOST_TIMEOUT', `HTTP request to ${url} did not finish before the call's deadline`);
    this.url = url;
  }
}

/** A request that could not be made or completed: connection refused, bad header, too many redirects... */
export function httpFailure(url: string, message: string, cause?: unknown): PlughostError {
  return new PlughostError('PLUGHOST_HTTP', `HTTP request to ${url} failed: ${message}`, cause === undefined ? undefined : { cause });
}

/** The response body is larger than `maxHttpResponseBytes` allows. */
export function bodyTooLarge(url: string, limit: number, requested: number): MemoryLimitError {
  return new MemoryLimitError(
    `HTTP response from ${url} is larger than maxHttpResponseBytes (${limit} bytes): read stopped at ${requested} bytes`,
    limit,
    requested,
  );
}

/** An error as it travels between threads. */
export interface WireError {
  code: string;
  message: string;
  url?: string;
  limit?: number;
  requested?: number;
}

export function errorToWire(err: unknown): WireError {
  if (err instanceof HttpDeniedError || err instanceof HttpDeadlineExceeded) return { code: err.code, message: err.message, url: err.url };
  if (err instanceof MemoryLimitError) return { code: err.code, message: err.message, limit: err.limit, requested: err.requested };
  if (err instanceof PlughostError) return { code: err.code, message: err.message };
  return { code: 'PLUGHOST_HTTP', message: err instanceof Error ? err.message : String(err) };
}

export function errorFromWire(wire: WireError): PlughostError {
  switch (wire.code) {
    case 'PLUGHOST_HTTP_DENIED':
      return new HttpDeniedError(wire.url ?? '', wire.message);
    case 'PLUGHOST_TIMEOUT':
      return new HttpDeadlineExceeded(wire.url ?? '');
    case 'PLUGHOST_MEMORY_LIMIT':
      return new MemoryLimitError(wire.message, wire.limit ?? 0, wire.requested ?? 0);
    default:
      return new PlughostError('PLUGHOST_HTTP', wire.message);
  }
}
