/**
 * `build-swarm finalize`, `rollback` and `releases`: through the gateway's API (src/swarm-client), which holds
 * the data folder, runs verify and switches production. Exit 3 when finalize is refused.
 */

import type { Argv } from 'yargs';
import { ArgoError, EXIT } from '../../core/errors.ts';
import type { VerifyReport } from '../../core/swarm/verify-score.ts';
import { createSwarmClient, type SwarmClient } from '../../swarm-client/swarm-client.ts';
import { readPrivateFile } from '../../system/read-private-file.ts';
import type { CommandOutcome, GlobalOptions, HandlerContext } from '../run-cli.ts';
import { renderVerify } from './swarm-verify.ts';
import { askFirst, assertCanAsk, confirm, willAsk, type Ask } from './confirm.ts';

export interface GatewayClientArgs extends GlobalOptions {
  readonly gateway: string | undefined;
  readonly tokenFile: string | undefined;
}

export interface SwarmFinalizeArgs extends GatewayClientArgs {
  readonly yes: boolean;
  readonly profile: string;
  readonly force: string | undefined;
  readonly threshold: number | undefined;
}

export interface SwarmRollbackArgs extends GatewayClientArgs {
  readonly yes: boolean;
  readonly profile: string;
  readonly to: string | undefined;
  /** -p/--pretend: say which release production would switch to; change nothing. */
  readonly pretend?: boolean;
  /** -a/--ask: say it, then ask (also with --yes absent in a script: refused). */
  readonly ask?: boolean;
}

export interface SwarmReleasesArgs extends GatewayClientArgs {
  readonly profile: string;
}

export function gatewayClientOptions<T>(command: Argv<T>) {
  return command
    .option('gateway', { type: 'string', describe: 'the gateway URL (env ARGO_SWARM_GATEWAY)' })
    .option('token-file', { type: 'string', describe: 'a root-only file holding a token of the scope the command needs (env ARGO_SWARM_TOKEN_FILE)' });
}

/** The gateway client of a command: `--gateway`/ARGO_SWARM_GATEWAY, with the token of `--token-file`/ARGO_SWARM_TOKEN_FILE. */
export async function gatewayClient(args: GatewayClientArgs, context: HandlerContext): Promise<SwarmClient> {
  const url = args.gateway ?? context.process.env.ARGO_SWARM_GATEWAY;
  if (url === undefined || url === '') {
    throw new ArgoError('ARGO_USAGE', 'No gateway to ask', { hint: 'Give --gateway https://GATEWAY:8470 (or set ARGO_SWARM_GATEWAY).' });
  }
  const tokenFile = args.tokenFile ?? context.process.env.ARGO_SWARM_TOKEN_FILE;
  const token = tokenFile === undefined || tokenFile === '' ? undefined : (await readPrivateFile(tokenFile, 4096, 'gateway token file')).trim();
  return createSwarmClient({ url, ...(token === undefined ? {} : { token }) });
}

export async function runSwarmFinalizeCommand(args: SwarmFinalizeArgs, context: HandlerContext): Promise<CommandOutcome> {
  const client = await gatewayClient(args, context);
  // Publishing what verify passes is the gate's call; publishing past it is the operator's, on a terminal asked.
  if (args.force !== undefined) await confirm(args, context, `Publish staging of ${args.profile} to production even if verify says it is not safe (reason kept: ${args.force}).`);
  const answer = await client.finalize(args.profile, { ...(args.force === undefined ? {} : { force: args.force }), ...(args.threshold === undefined ? {} : { threshold: args.threshold }) });
  const report = renderVerify(answer.verify as unknown as VerifyReport);
  if (answer.refused || answer.release === undefined) {
    return {
      exitCode: EXIT.refused,
      json: answer,
      text: `${report}\n\nFinalize refused: the score ${answer.verify.score} is not below ${answer.verify.threshold}. Production is unchanged.\nFix what verify lists (build-swarm fix-blocked), or publish anyway with --force REASON.`,
    };
  }
  const release = answer.release;
  return {
    exitCode: EXIT.ok,
    json: answer,
    text: `${report}\n\nProduction of ${args.profile} is now release ${release.release} (${release.packages ?? '?'} packages)${release.previous === undefined ? '' : `; it was ${release.previous} (build-swarm rollback --profile ${args.profile} switches back)`}.${args.force === undefined ? '' : `\nForced: ${args.force}`}`,
  };
}

/**
 * `build-swarm rollback`: switches production back. --pretend says from which release to which (read from the
 * releases the gateway lists, as it picks: --to, else the one before the current), --ask says it and asks;
 * without either, a terminal is asked unless --yes (confirm).
 */
export async function runSwarmRollbackCommand(args: SwarmRollbackArgs, context: HandlerContext, ask?: Ask): Promise<CommandOutcome> {
  const asking = { ask: args.ask === true, pretend: args.pretend === true, yes: args.yes };
  assertCanAsk(asking, context, 'build-swarm rollback');
  const client = await gatewayClient(args, context);
  if (asking.pretend || willAsk(asking)) {
    const listed = await client.releases(args.profile);
    const index = listed.releases.findIndex((release) => release.current);
    const current = listed.releases[index];
    const target = args.to === undefined ? (index < 0 ? undefined : listed.releases[index + 1]) : listed.releases.find((release) => release.id === args.to);
    const describe = (release: (typeof listed.releases)[number]): string => `release ${release.id} (${release.packages ?? '?'} packages, made ${release.createdAt}${release.score === undefined ? '' : `, score ${release.score}`})`;
    if (target === undefined) {
      throw new ArgoError('ARGO_INVALID_INPUT', args.to === undefined ? `Production of ${args.profile} has no release before ${current?.id ?? 'the current one'} to roll back to` : `Profile ${args.profile} has no release ${args.to}`, {
        hint: `Releases: ${listed.releases.map((release) => release.id).join(', ') || 'none'} (build-swarm releases --profile ${args.profile}).`,
      });
    }
    const plan = `build-swarm rollback would switch production of ${args.profile}\n  from ${current === undefined ? 'no release' : describe(current)}\n  to   ${describe(target)}\nClients updating from it then get the older packages.`;
    if (asking.pretend) return { exitCode: EXIT.ok, json: { profile: args.profile, pretend: true, from: current?.id, to: target.id }, text: `PRETEND: nothing was changed.\n${plan}` };
    await askFirst(asking, context, plan, `switch production of ${args.profile} to release ${target.id}`, ask);
    const switched = await client.rollback(args.profile, target.id);
    return { exitCode: EXIT.ok, json: switched, text: `Production of ${args.profile} is now release ${switched.release}${switched.previous === undefined ? '' : ` (was ${switched.previous})`}.` };
  }
  await confirm(args, context, `Switch production of ${args.profile} back to ${args.to ?? 'the previous release'}: clients updating from it get the older packages.`);
  const switched = await client.rollback(args.profile, args.to);
  return { exitCode: EXIT.ok, json: switched, text: `Production of ${args.profile} is now release ${switched.release}${switched.previous === undefined ? '' : ` (was ${switched.previous})`}.` };
}

export async function runSwarmReleasesCommand(args: SwarmReleasesArgs, context: HandlerContext): Promise<CommandOutcome> {
  const client = await gatewayClient(args, context);
  const listed = await client.releases(args.profile);
  const lines = listed.releases.map((release) => `${release.current ? '*' : ' '} ${release.id}  ${release.createdAt}  ${String(release.packages ?? '?').padStart(5)} packages${release.score === undefined ? '' : `  score ${release.score}`}${release.forced === undefined ? '' : `  forced: ${release.forced}`}`);
  return { exitCode: EXIT.ok, json: listed, text: lines.length === 0 ? `Profile ${args.profile} has no release yet (build-swarm finalize makes one).` : lines.join('\n') };
}
