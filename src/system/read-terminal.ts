import * as fs from 'node:fs/promises';
import { parseProcStat } from '../core/system-state/processes.ts';

/** argo's controlling terminal (tty_nr of /proc/self/stat) and the command names of its ancestors. */
export async function readTerminal(env: Readonly<Record<string, string | undefined>>): Promise<{ ttyNr: number; env: Readonly<Record<string, string | undefined>>; ancestors: string[] }> {
  const self = await fs.readFile('/proc/self/stat', 'utf8');
  const ttyNr = Number(self.slice(self.lastIndexOf(')') + 2).split(' ')[4] ?? 0);
  const ancestors: string[] = [];
  let pid = parseProcStat(self)?.ppid ?? 0;
  for (let depth = 0; pid > 1 && depth < 32; depth += 1) {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    const parsed = stat === undefined ? undefined : parseProcStat(stat);
    if (parsed === undefined) break;
    ancestors.push(parsed.comm);
    pid = parsed.ppid;
  }
  return { ttyNr, env, ancestors };
}
