// For the tests of the checks `npm test` runs over src/ (scripts/check-*.mjs): run one over a
// folder, and write the throwaway projects it is tried on.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot } from './helpers.js';

const exec = promisify(execFile);

export interface ScriptCheck {
  /** Runs the script over `dir`: its exit status and output. */
  check(dir: string): Promise<{ status: number; stdout: string; stderr: string }>;
  /** A project named `name` holding `files` (path → source), in a temporary folder removed after the suite. */
  project(name: string, files: Record<string, string>): Promise<string>;
}

/** `scripts/<script>` for the suite this is called in (it registers the suite's before and after hooks). */
export function scriptCheck(script: string): ScriptCheck {
  const path = join(repoRoot, 'scripts', script);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), `plughost-${script.replace(/\W+/g, '-')}`));
  });
  after(() => rm(dir, { recursive: true, force: true }));
  return {
    check: (target) =>
      exec(process.execPath, [path, target]).then(
        ({ stdout, stderr }) => ({ status: 0, stdout, stderr }),
        (err: { code: number; stdout: string; stderr: string }) => ({ status: err.code, stdout: err.stdout, stderr: err.stderr }),
      ),
    async project(name, files) {
      const base = join(dir, name);
      for (const [file, source] of Object.entries(files)) {
        await mkdir(join(base, file, '..'), { recursive: true });
        await writeFile(join(base, file), source);
      }
      return base;
    },
  };
}
