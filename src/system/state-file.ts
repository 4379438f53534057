import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomic } from './atomic-write.ts';

/**
 * A JSON file on the host that a run keeps its progress in. It knows nothing of what it holds: the schema
 * belongs to the phased runner (src/phases/state.ts), which validates what load() returns.
 */
export interface JsonStateFile {
  readonly path: string;
  /** The parsed JSON, or undefined when the file does not exist. */
  load(): Promise<unknown>;
  save(value: unknown): Promise<void>;
}

/** A state file replaced atomically after every save, so that a kill leaves a readable one. */
export function createStateFile(file: string): JsonStateFile {
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
    async save(value: unknown) {
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
    },
  };
}
