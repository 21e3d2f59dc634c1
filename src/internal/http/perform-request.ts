// One plug-in HTTP exchange, asynchronously, with a given fetch: the policy (allowed hosts,
// schemes, redirects, body limit, deadline) lives here and nowhere else. The helper worker runs
// it for blocked plug-ins; a worker-mode host can run it on the main thread with a user's fetch.
import { HttpDeniedError, PlughostError } from '../../errors.js';
import { concatBytes } from '../bytes.js';
import { Deadline } from '../deadline.js';
import type { HttpRequest, HttpResponse, PreparedHttpRequest } from '../host-env.js';
import type { HostMatcher } from './allowed-hosts.js';
import { bodyTooLarge, HttpDeadlineExceeded, httpFailure } from './http-errors.js';

/** What a request may do. */
export interface HttpPolicy {
  allowedHosts: HostMatcher;
  /** Largest response body accepted, in bytes (after content decoding). */
  maxResponseBytes: number;
}

/** Redirects followed before giving up, as browsers and undici do. */
export const MAX_REDIRECTS = 10;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Request headers that describe the body; dropped when a redirect turns the request into a GET. */
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type', 'content-length'];
/** Credentials a redirect must not carry to another origin (the fetch standard's list). */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];
const EMPTY = new Uint8Array(0);

/**
 * Parse and vet a URL before anything connects: http(s) only, host in `allowedHosts`.
 * `redirectedFrom` words the denial of a redirect's `Location`.
 */
export function checkUrl(raw: string, allowedHosts: HostMatcher, redirectedFrom?: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HttpDeniedError(raw, `HTTP request to ${JSON.stringify(raw)} denied: not an absolute URL`);
  }
  const what = redirectedFrom === undefined ? `HTTP request to ${url.href}` : `HTTP redirect from ${redirectedFrom} to ${url.href}`;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new HttpDeniedError(url.href, `${what} denied: only http: and https: URLs are allowed`);
  }
  if (!allowedHosts(url.hostname)) {
    throw new HttpDeniedError(url.href, `${what} denied: host "${url.hostname}" is not in allowedHosts`);
  }
  return url;
}

/** RFC 9110 token characters: what a method (and a header name) is made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function shown(value: unknown): string {
  return (JSON.stringify(value) ?? String(value)).slice(0, 80);
}

/**
 * Check what the guest asked for beyond the URL, once the URL has passed {@link checkUrl}: a
 * missing, null or empty `method` is GET (an empty one is what Go's net/http means by it, and
 * go-pdk's transport passes it on), missing or null `headers` are none; anything else that is
 * not a method name or an object of string values fails the request, naming the culprit.
 */
export function prepareRequest(request: HttpRequest, url: URL): PreparedHttpRequest {
  const { headers = null } = request;
  const method = request.method === '' ? null : (request.method ?? null);
  if (method !== null && (typeof method !== 'string' || !TOKEN.test(method))) {
    throw httpFailure(url.href, `"method" must be null or an HTTP method name such as "GET" or "POST", got ${shown(method)}`);
  }
  if (headers !== null && (typeof headers !== 'object' || Array.isArray(headers))) {
    throw httpFailure(url.href, `"headers" must be null or an object of string values, got ${shown(headers)}`);
  }
  const flat: Record<string, string> = Object.create(null);
  if (headers !== null) {
    for (const [name, value] of Object.entries(headers)) {
      if (!TOKEN.test(name)) throw httpFailure(url.href, `header name ${shown(name)} is not a valid HTTP header name`);
      if (typeof value !== 'string') throw httpFailure(url.href, `header "${name}" must be a string, got ${shown(value)}`);
      flat[name] = value;
    }
  }
  return { url: request.url, method: method === null ? 'GET' : method.toUpperCase(), headers: flat, body: request.body };
}

/** The length a response declares, when it is the length of the bytes we will read. */
function declaredLength(headers: Headers): number | undefined {
  const encoding = headers.get('content-encoding');
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity') return undefined; // fetch decodes: sizes differ
  const value = headers.get('content-length');
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

/**
 * Read a body, failing as soon as it passes `limit`: the rest is never downloaded. The bytes
 * land in one buffer of their own (transferable), copied once from the network chunks.
 */
async function readBody(response: Response, url: string, limit: number, stop: () => void): Promise<Uint8Array> {
  const stream = response.body;
  if (stream === null) return EMPTY;
  const declared = declaredLength(response.headers);
  if (declared !== undefined && declared > limit) {
    stop();
    await stream.cancel().catch(() => {});
    throw bodyTooLarge(url, limit, declared);
  }
  const reader = stream.getReader();
  // With a trustworthy length, fill one buffer of that size; otherwise keep the chunks and join once.
  let exact = declared === undefined ? undefined : new Uint8Array(declared);
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (length + value.byteLength > limit) {
      stop();
      await reader.cancel().catch(() => {});
      throw bodyTooLarge(url, limit, length + value.byteLength);
    }
    if (exact !== undefined && length + value.byteLength > exact.byteLength) {
      chunks.push(exact.subarray(0, length)); // the server sent more than it declared
      exact = undefined;
    }
    if (exact !== undefined) exact.set(value, length);
    else chunks.push(value);
    length += value.byteLength;
  }
  if (exact !== undefined) return length === exact.byteLength ? exact : exact.slice(0, length);
  if (length === 0) return EMPTY;
  return concatBytes(chunks, length);
}

/** Response headers as a plain object with lowercase names; repeated headers joined by ", ". */
function plainHeaders(headers: Headers): Record<string, string> {
  // no prototype: "__proto__" is a header name like any other
  const out: Record<string, string> = Object.create(null);
  headers.forEach((value, name) => {
    const key = name.toLowerCase();
    out[key] = Object.hasOwn(out, key) ? `${out[key]}, ${value}` : value;
  });
  return out;
}

function withoutHeaders(headers: Record<string, string>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(headers)) if (!names.includes(name.toLowerCase())) out[name] = value;
  return out;
}

/** Why a request's controller was aborted. */
type StopReason = 'deadline' | 'cancelled' | 'done';

/**
 * Perform `request` under `policy` with `fetchImpl`, following redirects by hand so that every
 * hop is checked against `allowedHosts` before it connects. Rejects with HttpDeniedError,
 * MemoryLimitError, HttpDeadlineExceeded (at `deadline`), or a PLUGHOST_HTTP error.
 * `cancel` aborts it early (the rejection is then a PLUGHOST_HTTP error).
 */
export async function performHttpRequest(
  request: PreparedHttpRequest,
  policy: HttpPolicy,
  fetchImpl: typeof fetch,
  deadline: Deadline,
  cancel?: AbortSignal,
): Promise<HttpResponse> {
  let url = checkUrl(request.url, policy.allowedHosts);
  const controller = new AbortController();
  let stopped: StopReason | undefined;
  const stop = (reason: StopReason) => {
    if (stopped !== undefined) return;
    stopped = reason;
    controller.abort(reason);
  };
  if (Deadline.expired(deadline)) throw new HttpDeadlineExceeded(url.href);
  // Timers may fire a little early (the loop's clock is cached): re-arm until the deadline is really past.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expire = () => {
    if (Deadline.expired(deadline)) stop('deadline');
    else timer = setTimeout(expire, Deadline.timerDelay(deadline));
  };
  if (deadline !== Deadline.none) expire();
  const onCancel = () => stop('cancelled');
  if (cancel?.aborted) onCancel();
  cancel?.addEventListener('abort', onCancel);

  let method = request.method;
  let headers = request.headers;
  let body = method === 'GET' || method === 'HEAD' ? null : request.body;
  try {
    for (let hop = 0; ; hop++) {
      const response = await fetchImpl(url.href, {
        method,
        headers,
        body: body as Uint8Array<ArrayBuffer> | null, // kernel reads are fresh copies, never shared memory
        redirect: 'manual',
        // In a browser, a request to the page's own origin would otherwise carry the user's
        // cookies: a plug-in acting with the user's session. (Node's fetch sends none anyway.)
        credentials: 'omit',
        signal: controller.signal,
      });
      const location = REDIRECT_STATUSES.has(response.status) ? response.headers.get('location') : null;
      if (response.type === 'opaqueredirect') {
        throw httpFailure(
          url.href,
          "the fetch implementation (a browser's) hid a redirect (opaqueredirect), so it cannot be checked against allowedHosts: request the URL it redirects to, or run the plug-in where fetch shows redirects (Node.js, Deno, Bun)",
        );
      }
      if (location === null) {
        const bytes = await readBody(response, url.href, policy.maxResponseBytes, () => stop('done'));
        return { status: response.status, headers: plainHeaders(response.headers), body: bytes };
      }
      await response.body?.cancel().catch(() => {});
      if (hop === MAX_REDIRECTS) throw httpFailure(request.url, `more than ${MAX_REDIRECTS} redirects (the last to ${location})`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw httpFailure(url.href, `redirect to an invalid Location ${JSON.stringify(location)}`);
      }
      next = checkUrl(next.href, policy.allowedHosts, url.href);
      // As fetch does: 303 becomes GET, and so do 301/302 after a POST; 307/308 resend as they were.
      if ((response.status === 303 && method !== 'HEAD') || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = 'GET';
        body = null;
        headers = withoutHeaders(headers, BODY_HEADERS);
      }
      if (next.origin !== url.origin) headers = withoutHeaders(headers, CREDENTIAL_HEADERS);
      url = next;
    }
  } catch (err) {
    if (stopped === 'deadline') throw new HttpDeadlineExceeded(url.href);
    if (stopped === 'cancelled') throw httpFailure(url.href, 'cancelled', err);
    if (err instanceof PlughostError) throw err;
    throw httpFailure(url.href, describe(err), err);
  } finally {
    clearTimeout(timer);
    cancel?.removeEventListener('abort', onCancel);
  }
}

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, a bad header...) is in its cause. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause instanceof Error && cause.message !== '') return `${err.message}: ${cause.message}`;
  return err.message;
}
