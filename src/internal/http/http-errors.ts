// The HTTP failures that have no class in src/errors.ts. (Across threads they travel like every
// other error: internal/error-codec.ts.)
import { MemoryLimitError, PlughostError } from '../../errors.js';

/**
 * An HTTP request was still running when its deadline came: the call's (`timeoutMs`), or its
 * own (`httpTimeoutMs`, then set here). The engine turns it into the call's `TimeoutError`;
 * the request itself has been aborted.
 */
export class HttpDeadlineExceeded extends PlughostError {
  readonly url: string;
  /** Set when the request's own limit, not the call's deadline, ran out. */
  readonly httpTimeoutMs: number | undefined;
  constructor(url: string, httpTimeoutMs?: number) {
    super(
      'PLUGHOST_TIMEOUT',
      httpTimeoutMs === undefined
        ? `HTTP request to ${url} did not finish before the call's deadline`
        : `HTTP request to ${url} did not finish within httpTimeoutMs (${httpTimeoutMs} ms)`,
    );
    this.url = url;
    this.httpTimeoutMs = httpTimeoutMs;
  }

  override get name(): string {
    return 'HttpDeadlineExceeded';
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
