import { spawn, type StdioOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRunOptions {
  /** stdin: closed (`ignore`), a pipe we never write to (`silent-pipe`), default closed. */
  readonly stdin?: 'ignore' | 'silent-pipe';
  /** Called once the process runs, to send it signals. */
  readonly during?: (pid: number) => void;
  readonly env?: Record<string, string>;
}

/** Runs a built executable (dist/cli/NAME.js) with the test's Node.js, as a user would. */
export function runBuiltCli(name: 'argo' | 'apkg' | 'build-swarm', args: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  const stdio: StdioOptions = [options.stdin === 'silent-pipe' ? 'pipe' : 'ignore', 'pipe', 'pipe'];
  const child = spawn(process.execPath, [`${PROJECT}dist/cli/${name}.js`, ...args], {
    stdio,
    env: { ...process.env, LANG: 'C', NO_COLOR: '1', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  if (child.pid !== undefined) options.during?.(child.pid);
  return new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
