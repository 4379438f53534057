import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { RunState, StateStore } from '../phases/state.ts';
import { writeFileAtomic } from './atomic-write.ts';

/** A state file on the host, replaced atomically after every step so that a kill leaves a readable one. */
export function createStateFile(file: string): StateStore {
  return {
    path: file,
    async load() {
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
      return JSON.parse(text) as unknown;
    },
    async save(state: RunState) {
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    },
  };
}
