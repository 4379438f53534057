import { ArgoError } from '../../core/errors.ts';
import type { CommandOutcome } from '../run-cli.ts';

/** The handler of a command that is part of the contract but has not been built yet. */
export function notLanded(command: string, issue: string) {
  return async (): Promise<CommandOutcome> => {
    throw new ArgoError('ARGO_NOT_IMPLEMENTED', `${command} is not in this version of argo-toolkit yet`, {
      hint: `It is planned (${issue}); see the README for what this version can do.`,
      details: { command },
    });
  };
}
