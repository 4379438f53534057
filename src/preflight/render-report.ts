import type { PreflightReport } from './types.ts';

const MARKS = {
  unicode: { pass: '✓', warn: '!', fail: '✗', skip: '–' },
  ascii: { pass: '[ok]  ', warn: '[warn]', fail: '[FAIL]', skip: '[skip]' },
} as const;

/** The checklist as a person reads it at a glance: a mark per check, the coverage, the verdict, what to do. */
export function renderPreflight(report: PreflightReport, style: { unicode: boolean; colour: boolean }): string {
  const marks = style.unicode ? MARKS.unicode : MARKS.ascii;
  const paint = (code: number, text: string): string => (style.colour ? `\u001b[${code}m${text}\u001b[0m` : text);
  const colourOf = { pass: 32, warn: 33, fail: 31, skip: 2 } as const;
  const width = Math.max(...report.checks.map((check) => check.id.length));
  const lines = [`Pre-update checklist for ${report.root}`, ''];
  for (const check of report.checks) {
    lines.push(`${paint(colourOf[check.status], marks[check.status])} ${check.id.padEnd(width)}  ${check.summary}`);
  }
  const failures = report.checks.filter((check) => check.status === 'fail');
  const warnings = report.checks.filter((check) => check.status === 'warn');
  lines.push('');
  lines.push(report.verdict === 'go' ? paint(32, 'Verdict: GO') : paint(31, `Verdict: NO-GO (${failures.length} failed)`));
  for (const check of [...failures, ...warnings]) {
    if (check.advice) lines.push(`  ${check.id}: ${check.advice}`);
  }
  return `${lines.join('\n')}\n`;
}
