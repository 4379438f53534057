/**
 * Typed events from one line of a running emerge's output, for progress bars and failure reports. Message shapes
 * come from Portage's scheduler: `"%s %s%s" % (action_desc, "(%s of %s) ", cpv::repo)` plus `" to ROOT"` when ROOT
 * is not `/` (lib/_emerge/EbuildBuild.py, Binpkg.py, MergeListItem.py), the job status line of
 * lib/_emerge/JobStatusDisplay.py (`Jobs: C of T complete, [pkg - ]R running, F failed   Load avg: ...`), the
 * `Failed to <action> <cpv>[, Log file:]` line of lib/_emerge/Scheduler.py and the ebuild.sh `die` banner
 * (` * ERROR: cat/pkg-1.0::repo failed (compile phase):`).
 */

export interface EmergeProgressTarget {
  readonly index: number;
  readonly total: number;
  /** CPV as printed (a binary's may carry its BUILD_ID). */
  readonly cpv: string;
  readonly repo?: string;
  /** ROOT when not `/`. */
  readonly root?: string;
}

export type EmergeProgressEvent =
  | ({ readonly kind: 'emerging'; readonly binary: boolean } & EmergeProgressTarget)
  | ({ readonly kind: 'fetching'; readonly binary: boolean } & EmergeProgressTarget)
  | ({ readonly kind: 'installing' } & EmergeProgressTarget)
  | ({ readonly kind: 'completed' } & EmergeProgressTarget)
  | {
      readonly kind: 'jobs';
      readonly completed: number;
      readonly total: number;
      readonly running: number;
      readonly failed: number;
      /** Shown when one job has run for over a second: the first 15 characters of its package name. */
      readonly runningPackage?: string;
      /** 1, 5 and 15 minute load averages; undefined when Portage printed "unknown". */
      readonly loadAverage?: readonly number[];
    }
  | {
      readonly kind: 'failed';
      /** `emerge`, `install`, `fetch`, ... */
      readonly action: string;
      readonly cpv: string;
      readonly root?: string;
      /** The next `>>>  '<path>'` line names the build log. */
      readonly logFileFollows: boolean;
    }
  | { readonly kind: 'log-file'; readonly path: string }
  | { readonly kind: 'phase-failed'; readonly cpv: string; readonly repo?: string; readonly phase: string }
  | { readonly kind: 'build-log'; readonly path: string };

const TERMINAL_CODES = /\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;
const COUNTER_LINE = /^>>> (Emerging binary|Emerging|Fetching binary|Fetching|Installing|Completed) \((\d+) of (\d+)\) (\S+?)(?:::(\S+))?(?: (?:to|in|from) (\S+))?$/;
const JOBS_LINE = /^>>> Jobs: (\d+) of (\d+) complete(?:, (?:(.+?) - )?(\d+) running)?(?:, (\d+) failed)?\s*(?:Load avg: (.*))?$/;
const FAILED_LINE = /^>>> Failed to (\S+) (\S+?)(?: (?:to|in|from) (\S+?))?(, Log file:)?$/;
const LOG_FILE_LINE = /^>>>\s+'(.+)'$/;
const DIE_LINE = /^\*\s+ERROR: (\S+?)(?:::(\S+))? failed \((\S+) phase\):?$/;
const BUILD_LOG_LINE = /^\*\s+The complete build log is located at '(.+)'\.?$/;

/** The event a line announces, or undefined for any other output. */
export function parseEmergeProgressLine(line: string): EmergeProgressEvent | undefined {
  // A terminal status line is redrawn with "\r" and colour codes; the last redraw is what the user saw.
  const cleaned = line.replace(TERMINAL_CODES, '').replace(/[\r\n]+$/, '');
  const text = cleaned.slice(cleaned.lastIndexOf('\r') + 1).trim();
  if (text.startsWith('>>> ')) return parseStatusLine(text);
  if (text.startsWith('*')) return parseEbuildMessage(text);
  return undefined;
}

function parseStatusLine(text: string): EmergeProgressEvent | undefined {
  const counter = COUNTER_LINE.exec(text);
  if (counter !== null) {
    const target: EmergeProgressTarget = {
      index: Number(counter[2]),
      total: Number(counter[3]),
      cpv: counter[4] as string,
      ...(counter[5] === undefined ? {} : { repo: counter[5] }),
      ...(counter[6] === undefined ? {} : { root: counter[6] }),
    };
    const action = counter[1] as string;
    if (action.startsWith('Emerging')) return { kind: 'emerging', binary: action.endsWith('binary'), ...target };
    if (action.startsWith('Fetching')) return { kind: 'fetching', binary: action.endsWith('binary'), ...target };
    return { kind: action === 'Installing' ? 'installing' : 'completed', ...target };
  }
  const jobs = JOBS_LINE.exec(text);
  if (jobs !== null) {
    const load = jobs[6]?.trim();
    const averages = load === undefined || load === 'unknown' ? undefined : load.split(',').map((value) => Number(value.trim()));
    return {
      kind: 'jobs',
      completed: Number(jobs[1]),
      total: Number(jobs[2]),
      running: Number(jobs[4] ?? 0),
      failed: Number(jobs[5] ?? 0),
      ...(jobs[3] === undefined ? {} : { runningPackage: jobs[3] }),
      ...(averages === undefined || averages.some(Number.isNaN) ? {} : { loadAverage: averages }),
    };
  }
  const failed = FAILED_LINE.exec(text);
  if (failed !== null) {
    return {
      kind: 'failed',
      action: failed[1] as string,
      cpv: failed[2] as string,
      ...(failed[3] === undefined ? {} : { root: failed[3] }),
      logFileFollows: failed[4] !== undefined,
    };
  }
  const logFile = LOG_FILE_LINE.exec(text);
  if (logFile !== null) return { kind: 'log-file', path: logFile[1] as string };
  return undefined;
}

function parseEbuildMessage(text: string): EmergeProgressEvent | undefined {
  const die = DIE_LINE.exec(text);
  if (die !== null) {
    return { kind: 'phase-failed', cpv: die[1] as string, ...(die[2] === undefined ? {} : { repo: die[2] }), phase: die[3] as string };
  }
  const buildLog = BUILD_LOG_LINE.exec(text);
  if (buildLog !== null) return { kind: 'build-log', path: buildLog[1] as string };
  return undefined;
}
