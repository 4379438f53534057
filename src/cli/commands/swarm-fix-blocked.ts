/**
 * `build-swarm fix-blocked`: why the packages of a cycle failed or are blocked, each failure with the command that
 * fixes it, blocked packages grouped under the failure they wait on. Read-only, through the gateway's API: the
 * status, the cycle's DAG (GET /api/v1/cycles/C/graph) and the newest kept log of each failed package.
 *
 * Exit 0 when the cycle has nothing failed or blocked, 1 (EXIT.failed) when there is something to fix, so a
 * script can tell the two apart.
 */

import type { Argv } from 'yargs';
import { z } from 'zod';
import { ArgoError, EXIT } from '../../core/errors.ts';
import { CAUSE_TITLES, DEFAULT_DRONE_ROOT, diagnoseBlocked, type FixBlockedReport, type GraphInput } from '../../core/swarm/diagnose-blocked.ts';
import type { CycleStatus } from '../../core/swarm/swarm-status.ts';
import { API_PREFIX } from '../../swarm-client/api.ts';
import type { SwarmClient } from '../../swarm-client/swarm-client.ts';
import type { CommandOutcome, HandlerContext } from '../run-cli.ts';
import { gatewayClient, type GatewayClientArgs } from './swarm-publish.ts';

export interface SwarmFixBlockedArgs extends GatewayClientArgs {
  readonly cycle: string | undefined;
  readonly profile: string | undefined;
  readonly droneRoot: string | undefined;
}

export function swarmFixBlockedOptions<T>(command: Argv<T>) {
  return command
    .option('cycle', { type: 'string', describe: 'the cycle to explain (default: the newest, of --profile if given)' })
    .option('profile', { type: 'string', describe: 'the newest cycle of this profile' })
    .option('drone-root', { type: 'string', describe: `the drones' drone.root, for the paths in the commands (default ${DEFAULT_DRONE_ROOT})` });
}

const WIDTH = 80;

/** What fix-blocked needs of the graph answer; the rest of it (durations, critical path) is ignored. */
const graphSchema = z.object({ nodes: z.array(z.object({ cpv: z.string(), deps: z.array(z.string()) })) });

export async function runSwarmFixBlockedCommand(args: SwarmFixBlockedArgs, context: HandlerContext): Promise<CommandOutcome> {
  const droneRoot = args.droneRoot ?? DEFAULT_DRONE_ROOT;
  if (!droneRoot.startsWith('/') || droneRoot.split('/').includes('..')) {
    throw new ArgoError('ARGO_USAGE', `--drone-root ${JSON.stringify(droneRoot)} is not an absolute path without ".."`, { hint: "Give the drones' drone.root, e.g. --drone-root /var/lib/argo/drone." });
  }
  const client = await gatewayClient(args, context);
  const status = await client.status();
  const cycle = chooseCycle(status.cycles, args);
  if (cycle === undefined) {
    const none = args.profile === undefined ? 'The swarm has no cycle' : `Profile ${args.profile} has no cycle`;
    return { exitCode: EXIT.ok, json: { cycle: null, failed: [], blockedBySeveral: [], unexplained: [], counts: { failed: 0, blocked: 0 } }, text: `${none}: nothing is blocked.` };
  }
  const graph = await readGraph(client, cycle.id);
  const logs = new Map<string, { path: string; text: string }>();
  for (const pkg of cycle.packages) {
    const path = pkg.state === 'failed' ? gatewayLogPath(pkg.logs.at(-1)) : undefined;
    if (path === undefined) continue;
    const text = await client.fetchText(path);
    if (text !== undefined) logs.set(pkg.cpv, { path, text });
  }
  const report = diagnoseBlocked({ cycle, graph, logs, droneRoot });
  const somethingToFix = report.counts.failed + report.counts.blocked > 0;
  return { exitCode: somethingToFix ? EXIT.failed : EXIT.ok, json: report, text: renderFixBlocked(report) };
}

/**
 * Where the gateway serves a kept log: records hold its API path, or its whole URL when an HTTP drone kept it.
 * Only the path is used, asked of the gateway this command talks to (a record never sends the token elsewhere);
 * a drone-local path (the upload of the log failed) cannot be read from here.
 */
function gatewayLogPath(kept: string | undefined): string | undefined {
  if (kept === undefined) return undefined;
  let path = kept;
  if (/^https?:\/\//.test(kept)) {
    try {
      path = new URL(kept).pathname;
    } catch {
      return undefined;
    }
  }
  return path.startsWith(`${API_PREFIX}/logs/`) ? path : undefined;
}

function chooseCycle(cycles: readonly CycleStatus[], args: SwarmFixBlockedArgs): CycleStatus | undefined {
  if (args.cycle !== undefined) {
    const found = cycles.find((cycle) => cycle.id === args.cycle);
    if (found === undefined) {
      const known = cycles.map((cycle) => cycle.id).join(', ');
      throw new ArgoError('ARGO_USAGE', `The gateway knows no cycle ${JSON.stringify(args.cycle)}`, { hint: known === '' ? 'The swarm has no cycle yet.' : `Its cycles: ${known}.` });
    }
    if (args.profile !== undefined && found.profile !== args.profile) {
      throw new ArgoError('ARGO_USAGE', `Cycle ${found.id} builds profile ${found.profile}, not ${args.profile}`, { hint: 'Give --cycle or --profile, or both for the same profile.' });
    }
    return found;
  }
  const candidates = cycles.filter((cycle) => args.profile === undefined || cycle.profile === args.profile);
  return [...candidates].sort((a, b) => b.createdAt - a.createdAt)[0];
}

/** The cycle's DAG, or undefined when this gateway does not serve /graph (blocked packages are then traced by their reason). */
async function readGraph(client: SwarmClient, cycle: string): Promise<GraphInput | undefined> {
  const path = `${API_PREFIX}/cycles/${encodeURIComponent(cycle)}/graph`;
  const text = await client.fetchText(path);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ArgoError('ARGO_SWARM_REQUEST_FAILED', `GET ${path} did not answer JSON`, { hint: 'Check that --gateway names a build-swarm gateway.', cause: error });
  }
  const graph = graphSchema.safeParse(parsed);
  if (!graph.success) throw new ArgoError('ARGO_SWARM_REQUEST_FAILED', `GET ${path} answered a graph this build-swarm cannot read`, { hint: 'Run the same version of build-swarm as the gateway.' });
  return graph.data;
}

// ---------------------------------------------------------------------------------------------------------
// Text

export function renderFixBlocked(report: FixBlockedReport): string {
  const lines: string[] = [];
  const { failed, blocked } = report.counts;
  lines.push(...wrap(`Cycle ${report.cycle} (profile ${report.profile}, ${report.status}): ${failed} failed, ${blocked} blocked.`, ''));
  if (failed + blocked === 0) return [...lines, 'Nothing to fix.'].join('\n');
  if (report.traced === 'reasons') lines.push(...wrap("(The gateway serves no DAG of this cycle: each blocked package is listed under the failure its reason names.)", ''));
  for (const pkg of report.failed) {
    const [headline] = pkg.findings;
    lines.push('');
    lines.push(...wrap(`${pkg.cpv} failed: ${CAUSE_TITLES[pkg.cause]}${pkg.blocks.length === 0 ? '' : ` (blocks ${pkg.blocks.length})`}`, ''));
    for (const finding of pkg.findings) {
      if (finding !== headline) lines.push(...wrap(`Also: ${CAUSE_TITLES[finding.cause]}.`, '  '));
      lines.push(...wrap(finding.summary, '  '));
      if (finding.evidence.length > 0) {
        lines.push('  The log says:');
        for (const line of finding.evidence) lines.push(clipLine(`    ${line}`));
      }
      lines.push(...wrap(`Fix: ${finding.fix.summary}`, '  '));
      if (finding.fix.commands.length > 0) {
        if (finding.fix.where !== undefined) lines.push(...wrap(`Run ${finding.fix.where}:`, '  '));
        for (const command of finding.fix.commands) lines.push(...renderCommand(command, '    '));
      }
    }
    if (pkg.log !== undefined && !pkg.findings.some((finding) => finding.fix.commands.some((command) => command.startsWith('build-swarm logs ')))) {
      lines.push(...wrap(`Whole log: build-swarm logs ${pkg.cpv}`, '  '));
    }
    if (pkg.blocks.length > 0) lines.push(...wrap(`Blocked until it builds: ${pkg.blocks.join(', ')}`, '  ', '    '));
  }
  if (report.blockedBySeveral.length > 0) {
    lines.push('', 'Blocked by more than one of the failures above:');
    for (const entry of report.blockedBySeveral) lines.push(...wrap(`${entry.cpv} waits on ${entry.waitsOn.join(', ')}`, '  ', '    '));
  }
  if (report.unexplained.length > 0) {
    lines.push('', 'Blocked, with no failed package found in the DAG:');
    for (const entry of report.unexplained) lines.push(...wrap(`${entry.cpv}${entry.reason === undefined ? '' : `: ${entry.reason}`}`, '  ', '    '));
  }
  lines.push('', 'After the fixes, build what is missing (built packages are kept):', ...renderCommand(report.retry, '    '));
  return lines.join('\n');
}

/** Words filled into lines of at most 80 columns; a word longer than a line stays whole. */
function wrap(text: string, indent: string, continuation = indent): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const prefix = lines.length === 0 ? indent : continuation;
    if (line !== '' && prefix.length + line.length + 1 + word.length > WIDTH) {
      lines.push(prefix + line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push((lines.length === 0 ? indent : continuation) + line);
  return lines;
}

/** Log text is shown, not copied: cut at 80 columns. */
function clipLine(line: string): string {
  return line.length <= WIDTH ? line : `${line.slice(0, WIDTH - 1)}…`;
}

/**
 * A command stays copyable: too long for one line, it is split between words (outside quotes, `>>` kept with its
 * file) with a backslash-newline, which the shell removes before it reads the words.
 */
function renderCommand(command: string, indent: string): string[] {
  if (indent.length + command.length <= WIDTH) return [indent + command];
  const units: string[] = [];
  for (const word of shellWords(command)) {
    const last = units.at(-1);
    if (last === '>>') units[units.length - 1] = `>> ${word}`;
    else units.push(word);
  }
  const lines: string[] = [];
  let line = '';
  for (const unit of units) {
    const prefix = lines.length === 0 ? indent : `${indent}  `;
    if (line !== '' && prefix.length + line.length + 1 + unit.length + 2 > WIDTH) {
      lines.push(`${prefix}${line} \\`);
      line = unit;
    } else line = line === '' ? unit : `${line} ${unit}`;
  }
  lines.push(`${lines.length === 0 ? indent : `${indent}  `}${line}`);
  return lines;
}

/** The command's words as written (quotes kept), split at spaces outside single quotes. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let quoted = false;
  let start = 0;
  for (let index = 0; index < command.length; index += 1) {
    const char = command[index];
    if (char === "'") quoted = !quoted;
    else if (!quoted && char === '\\') index += 1;
    else if (!quoted && char === ' ') {
      if (index > start) words.push(command.slice(start, index));
      start = index + 1;
    }
  }
  if (start < command.length) words.push(command.slice(start));
  return words;
}
