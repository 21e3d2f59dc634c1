// `allowed_hosts` as ABI.md defines it: glob patterns over the URL's hostname, where `*` matches
// any run of characters (dots included, possibly none), compared without regard to case. No
// pattern, no host. Nothing else in a pattern is special: `?` or `[` match themselves.

/** Whether a hostname (as `new URL(...).hostname` gives it) may be reached. */
export type HostMatcher = (hostname: string) => boolean;

const NOTHING: HostMatcher = () => false;

/**
 * Spell a pattern the way the URL parser spells hostnames, so `EXAMPLE.com`, `bücher.de` and
 * `*.bücher.de` match the lowercase, punycoded hostnames URLs carry. A pattern that is not a
 * bare host (it has a port, a path, a user...) is kept as written, lowercased: it then matches
 * only a hostname spelled exactly so, which no URL has, rather than a looser host than asked.
 */
function normalize(pattern: string): string {
  const lower = pattern.trim().toLowerCase();
  try {
    const url = new URL(`http://${lower}`);
    const bare = url.port === '' && url.username === '' && url.password === '' && url.pathname === '/' && url.search === '' && url.hash === '';
    // Chromium's parser escapes `*` in a host as `%2A` (Node, Deno and Bun keep it, and decode
    // a written `%2A` to `*`): turned back, a wildcard means the same on every engine.
    return bare ? url.hostname.replace(/%2a/gi, '*') : lower;
  } catch {
    return lower;
  }
}

function toRegExpSource(pattern: string): string {
  return pattern
    .split('*')
    .map((literal) => literal.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&'))
    .join('.*');
}

/**
 * Compile `allowedHosts` once into a matcher.
 *
 * ```ts
 * const allowed = compileAllowedHosts(['*.example.com', '127.0.0.*']);
 * allowed('api.example.com'); // true
 * allowed('example.com');     // false: the pattern asks for something before ".example.com"
 * ```
 */
export function compileAllowedHosts(patterns: readonly string[]): HostMatcher {
  if (patterns.length === 0) return NOTHING;
  const sources = patterns.map((p) => toRegExpSource(normalize(p)));
  const regex = new RegExp(`^(?:${sources.join('|')})$`, 'is');
  return (hostname) => hostname !== '' && regex.test(hostname.toLowerCase());
}
