import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { deletedLibrariesIn, parseProcStat, type ProcessInfo } from '../core/system-state/processes.ts';

/** The running processes and signals to them. The proc root is injectable so tests can add entries. */
export interface ProcessTable {
  readonly procRoot: string;
  list(): Promise<ProcessInfo[]>;
  /** Sends a signal; false when the process no longer exists. */
  signal(pid: number, signal: NodeJS.Signals): boolean;
  /** Exists and is not a zombie waiting to be reaped. */
  isAlive(pid: number): Promise<boolean>;
  /** The state letter now, or undefined when the process is gone. */
  stateOf(pid: number): Promise<string | undefined>;
  /** This process and its ancestors up to init: never to be killed by a cleanup. */
  ownAncestry(): Promise<Set<number>>;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The process ended while we looked (ENOENT, ESRCH), or the kernel hides it (EACCES on hardened kernels).
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EPERM') return undefined;
    throw error;
  }
}

export function createProcessTable(procRoot = '/proc'): ProcessTable {
  const read = async (pid: number): Promise<ProcessInfo | undefined> => {
    const dir = path.join(procRoot, String(pid));
    const stat = await readIfExists(path.join(dir, 'stat'));
    const parsed = stat === undefined ? undefined : parseProcStat(stat);
    if (parsed === undefined) return undefined;
    const [wchan, maps, status] = await Promise.all([
      readIfExists(path.join(dir, 'wchan')),
      readIfExists(path.join(dir, 'maps')),
      readIfExists(path.join(dir, 'status')),
    ]);
    const uid = /^Uid:\s+(\d+)/m.exec(status ?? '')?.[1];
    return {
      pid: parsed.pid,
      ppid: parsed.ppid,
      comm: parsed.comm,
      state: parsed.state,
      wchan: wchan === undefined || wchan === '0' || wchan === '' ? undefined : wchan.trim(),
      deletedLibraries: deletedLibrariesIn(maps ?? ''),
      uid: uid === undefined ? undefined : Number(uid),
    };
  };

  const table: ProcessTable = {
    procRoot,
    async list() {
      const pids = (await fs.readdir(procRoot)).filter((name) => /^\d+$/.test(name)).map(Number);
      const processes = await Promise.all(pids.map(read));
      return processes.filter((entry): entry is ProcessInfo => entry !== undefined).sort((a, b) => a.pid - b.pid);
    },
    signal(pid, signal) {
      try {
        process.kill(pid, signal);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
        throw error;
      }
    },
    async isAlive(pid) {
      const state = await table.stateOf(pid);
      return state !== undefined && state !== 'Z' && state !== 'X';
    },
    async stateOf(pid) {
      const stat = await readIfExists(path.join(procRoot, String(pid), 'stat'));
      return stat === undefined ? undefined : parseProcStat(stat)?.state;
    },
    async ownAncestry() {
      const pids = new Set<number>();
      // Always the real /proc: this is about the process running argo, not the (possibly injected) table.
      for (let pid = process.pid; pid > 1 && !pids.has(pid); ) {
        pids.add(pid);
        const stat = await readIfExists(path.join('/proc', String(pid), 'stat'));
        const parsed = stat === undefined ? undefined : parseProcStat(stat);
        if (parsed === undefined) break;
        pid = parsed.ppid;
      }
      pids.add(1);
      return pids;
    },
  };
  return table;
}
