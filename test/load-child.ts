// Run by test/loading.test.ts in a child process, so that a load that hangs or eats memory is
// killed at a bound instead of freezing the test runner: creates one plug-in from the source
// named on the command line and prints what happened as one JSON line.
import { createPlugin, type ManifestLike, type PluginOptions } from '../src/index.js';

/** What the parent asks for: a path, a URL, or a Response whose body never ends. */
export type LoadCase = { kind: 'path' | 'url' | 'manifest'; target: string; options?: PluginOptions } | { kind: 'endless-response'; options?: PluginOptions };

/** What the child prints. */
export interface LoadOutcome {
  ok: boolean;
  name?: string;
  code?: string;
  message?: string;
  source?: string;
  /** Peak resident memory of the child, in bytes. */
  maxRss: number;
}

function endlessResponse(): Response {
  let pulls = 0;
  const chunk = new Uint8Array(64 * 1024);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      controller.enqueue(pulls === 1 ? Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0) : chunk);
    },
  });
  return new Response(body, { headers: { 'content-type': 'application/wasm' } });
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as LoadCase;
  let manifest: ManifestLike;
  switch (job.kind) {
    case 'path':
      manifest = { wasm: [{ path: job.target }] };
      break;
    case 'url':
      manifest = { wasm: [{ url: job.target }] };
      break;
    case 'manifest':
      manifest = job.target;
      break;
    case 'endless-response':
      manifest = endlessResponse();
      break;
  }
  let outcome: Omit<LoadOutcome, 'maxRss'>;
  try {
    const plugin = await createPlugin(manifest, job.options);
    await plugin.close();
    outcome = { ok: true };
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string; source?: string };
    outcome = { ok: false, name: e.name, code: e.code, message: e.message, source: e.source };
  }
  process.stdout.write(`${JSON.stringify({ ...outcome, maxRss: process.resourceUsage().maxRSS * 1024 })}\n`);
  process.exit(0);
}

if (process.argv[2] !== undefined) void main();
