// Plug-in HTTP (`http_request`): the handlers the engine is given. See the platform's SyncHttp
// (platform/node/http/sync-fetch.ts on Node) for how a synchronous guest call waits for an
// asynchronous fetch, perform-request.ts for the policy.
import { ManifestError } from '../../errors.js';
import { Deadline } from '../deadline.js';
import type { HttpHandler, HttpRequest, HttpResponse } from '../host-env.js';
import type { SyncHttp } from '../platform/platform.js';
import { compileAllowedHosts } from './allowed-hosts.js';
import { HttpDeadlineExceeded } from './http-errors.js';
import { checkUrl, performHttpRequest, prepareRequest } from './perform-request.js';

export { compileAllowedHosts } from './allowed-hosts.js';
export { HttpDeadlineExceeded } from './http-errors.js';

/** What governs a plug-in's HTTP. */
export interface HttpOptions {
  /** `allowedHosts` glob patterns; empty allows nothing. */
  allowedHosts: readonly string[];
  /** `maxHttpResponseBytes`: a larger body fails the call, and is not read past the limit. */
  maxResponseBytes: number;
  /** The user's `fetch` option, if any (see {@link createHttpHandler} for where it can serve). */
  fetch?: typeof fetch;
  /** The running call's deadline ({@link Deadline.none} without one). */
  deadline: () => Deadline;
  /** `httpTimeoutMs`: each request ends this long after it starts at the latest; default {@link DEFAULT_HTTP_TIMEOUT_MS}. */
  requestTimeoutMs?: number;
}

/**
 * How long one `http_request` may take when `httpTimeoutMs` does not say: a plug-in on the
 * calling thread blocks that thread (and its event loop) for the whole request, so without a
 * bound a server that trickles bytes would freeze the process. 30 s is the reference SDK's
 * default `timeout_ms` for a whole call: generous for any API, short enough to notice.
 */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

/**
 * The deadline of one request: the call's, or `requestTimeoutMs` from now if that is
 * sooner; `own` tells a caller which one it is.
 */
export function requestDeadline(options: Pick<HttpOptions, 'deadline' | 'requestTimeoutMs'>): { deadline: Deadline; own: number | undefined } {
  const limit = options.requestTimeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const call = options.deadline();
  const own = Deadline.fromTimeout(limit);
  return own < call ? { deadline: own, own: limit } : { deadline: call, own: undefined };
}

/** The request's own limit ran out rather than the call's: say so, naming httpTimeoutMs. */
function reword(err: unknown, own: number | undefined): unknown {
  return own !== undefined && err instanceof HttpDeadlineExceeded && err.httpTimeoutMs === undefined ? new HttpDeadlineExceeded(err.url, own) : err;
}

/**
 * An HTTP handler for a thread that is free to await: a worker-mode host's main thread.
 * `cancel` aborts the request (when the blocked guest gave up on it, say).
 */
export type AsyncHttpHandler = (request: HttpRequest, cancel?: AbortSignal) => Promise<HttpResponse>;

/** Whether `fetch` is the user's own function rather than the global one. */
function isCustomFetch(fetchImpl: typeof fetch | undefined): boolean {
  return fetchImpl !== undefined && fetchImpl !== globalThis.fetch;
}

function checkLimits(options: HttpOptions): void {
  if (!(options.maxResponseBytes >= 0)) {
    throw new ManifestError('memory.maxHttpResponseBytes', `must be a number of bytes >= 0, got ${options.maxResponseBytes}`);
  }
  const timeout = options.requestTimeoutMs;
  if (timeout !== undefined && !(timeout > 0)) throw new ManifestError('httpTimeoutMs', `must be a number of milliseconds > 0, got ${timeout}`);
}

/**
 * The synchronous `http_request` handler for an engine on this thread: the request runs with
 * the global fetch in the platform's helper (`syncHttp`) while this thread blocks: until the call's
 * deadline or `requestTimeoutMs`, whichever comes first. Throws HttpDeniedError before
 * connecting to a host not in `allowedHosts`, and before looking at anything else the request
 * holds; then a PLUGHOST_HTTP error for a method or header that cannot be sent.
 *
 * A custom `fetch` cannot serve here: the user's function lives on a thread that is blocked
 * for the whole request. So a custom fetch throws a ManifestError; a worker-mode host serves
 * such plug-ins with {@link createAsyncHttpHandler} on its main thread instead.
 *
 * ```ts
 * const http = createHttpHandler({ allowedHosts: ['*.example.com'], maxResponseBytes: 50 * 2 ** 20, deadline: () => Deadline.none }, nodePlatform.syncHttp);
 * const { status, body } = http({ url: 'https://api.example.com/', method: 'GET', headers: {}, body: null });
 * ```
 */
export function createHttpHandler(options: HttpOptions, syncHttp: SyncHttp | undefined): HttpHandler {
  if (syncHttp === undefined) {
    throw new ManifestError(
      'allowedHosts',
      'http_request cannot be served on this thread: the platform cannot block it while a request runs. Use an engine with JS promise integration (JSPI), or runInWorker: true',
    );
  }
  if (isCustomFetch(options.fetch)) {
    throw new ManifestError(
      'fetch',
      'a custom fetch cannot serve http_request for a plug-in that runs on this thread: the thread is blocked while the request runs. ' +
        'Use runInWorker: true, or leave fetch unset (the global fetch is used)',
    );
  }
  checkLimits(options);
  const allowedHosts = [...options.allowedHosts];
  const matcher = compileAllowedHosts(allowedHosts);
  // Started with the first plug-in that can reach anything, so the first request does not pay
  // for the worker's start-up out of its deadline.
  if (allowedHosts.length > 0) syncHttp.warm();
  return (request) => {
    const prepared = prepareRequest(request, checkUrl(request.url, matcher));
    const { deadline, own } = requestDeadline(options);
    try {
      return syncHttp.fetch(prepared, allowedHosts, options.maxResponseBytes, deadline);
    } catch (err) {
      throw reword(err, own);
    }
  };
}

/**
 * The same policy as {@link createHttpHandler}, asynchronously, with `options.fetch` (default
 * the global fetch). For a host whose guest blocks on another thread while this one awaits.
 */
export function createAsyncHttpHandler(options: HttpOptions): AsyncHttpHandler {
  checkLimits(options);
  const policy = { allowedHosts: compileAllowedHosts(options.allowedHosts), maxResponseBytes: options.maxResponseBytes };
  const fetchImpl = options.fetch ?? globalThis.fetch;
  return async (request, cancel) => {
    const prepared = prepareRequest(request, checkUrl(request.url, policy.allowedHosts));
    const { deadline, own } = requestDeadline(options);
    try {
      return await performHttpRequest(prepared, policy, fetchImpl, deadline, cancel);
    } catch (err) {
      throw reword(err, own);
    }
  };
}
