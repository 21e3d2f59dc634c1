// worker.test.ts again with every call and result as a message (no rings): the path taken where
// rings are turned off (PLUGHOST_WORKER_RINGS=off), kept working and tested. Each test file runs
// in a process of its own, so the switch holds for this file only.
import { forceRings } from '../src/internal/worker/rings.js';

forceRings(false);
await import('./worker.test.js');
