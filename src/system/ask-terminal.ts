import { openSync } from 'node:fs';
import * as readline from 'node:readline';
import * as tty from 'node:tty';

/**
 * Asks a yes/no question on the controlling terminal (`/dev/tty`), never on stdin: a script's stdin, or a
 * dead one, is never read. Resolves true only for `y` or `yes`; false for anything else, an empty line,
 * end of input or a hung-up terminal. Ctrl-C (the signal) rejects with its reason.
 */
export async function askOnTerminal(question: string, signal: AbortSignal): Promise<boolean> {
  signal.throwIfAborted();
  let input: tty.ReadStream;
  let output: tty.WriteStream;
  try {
    input = new tty.ReadStream(openSync('/dev/tty', 'r'));
    output = new tty.WriteStream(openSync('/dev/tty', 'w'));
  } catch {
    return false; // no controlling terminal after all
  }
  const lines = readline.createInterface({ input, output, terminal: false });
  try {
    return await new Promise<boolean>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      output.write(question);
      lines.once('line', (answer) => resolve(/^\s*(y|yes)\s*$/i.test(answer)));
      lines.once('close', () => resolve(false));
      input.once('error', () => resolve(false));
      // A terminal hung up while asking: the write fails; that is a No, not a crash.
      output.once('error', () => resolve(false));
    });
  } finally {
    lines.close();
    input.destroy();
    output.destroy();
  }
}
