/**
 * The fake's own knobs, `$PORTAGE_CONFIGROOT/etc/argo-fake-emerge.conf`: `KEY=VALUE` lines, `#` comment lines,
 * blank lines; a value may be wrapped in one pair of single or double quotes. Every key is checked: an unknown
 * key or a bad value refuses the whole file, so a typo never silently runs the default.
 */

import { tryParseCpv } from '../../../src/core/gentoo/parse-cpv.ts';

export interface FakeEmergeConfig {
  /** A build sleeps TIME_SCALE x the package's real duration (seconds), at least MIN_SECONDS. */
  readonly timeScale: number;
  readonly minSeconds: number;
  /** Host path of a real emerge.log whose completed builds give each package's duration. */
  readonly durationsLog?: string;
  /** Duration of a package the log does not know, in seconds. */
  readonly defaultSeconds: number;
  readonly fail: 'never' | 'always';
  /** CPVs whose source build dies in the compile phase. */
  readonly failCpvs: ReadonlySet<string>;
  /** CPVs whose source build succeeds without writing a binary package. */
  readonly noBinaryCpvs: ReadonlySet<string>;
  /** CPVs whose source build prints one compile line and then nothing, until a signal. */
  readonly hangCpvs: ReadonlySet<string>;
}

export const DEFAULT_FAKE_CONFIG: FakeEmergeConfig = {
  timeScale: 0.001,
  minSeconds: 0.05,
  defaultSeconds: 600,
  fail: 'never',
  failCpvs: new Set(),
  noBinaryCpvs: new Set(),
  hangCpvs: new Set(),
};

export type ParseFakeConfigResult =
  | { readonly ok: true; readonly config: FakeEmergeConfig }
  | { readonly ok: false; readonly line: number; readonly message: string };

const KEY_LINE = /^([A-Z_]+)=(.*)$/;

function unquote(value: string): string {
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value[value.length - 1] === value[0]) return value.slice(1, -1);
  return value;
}

function readNumber(value: string, key: string): number | string {
  const number = /^\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value) ? Number(value) : Number.NaN;
  return Number.isFinite(number) ? number : `${key} must be a non-negative number, got "${value}"`;
}

function readCpvList(value: string, key: string): ReadonlySet<string> | string {
  const cpvs = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  for (const cpv of cpvs) {
    const parsed = tryParseCpv(cpv);
    if (!parsed.ok) return `${key} must list CATEGORY/PF names separated by commas; "${cpv}" is not one (${parsed.reason})`;
  }
  return new Set(cpvs);
}

export function parseFakeConfig(text: string): ParseFakeConfigResult {
  let config: FakeEmergeConfig = DEFAULT_FAKE_CONFIG;
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index += 1) {
    const line = (lines[index] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const refuse = (message: string): ParseFakeConfigResult => ({ ok: false, line: index + 1, message });
    const match = KEY_LINE.exec(line);
    if (match === null) return refuse(`expected KEY=VALUE, got "${line}"`);
    const key = match[1] as string;
    const value = unquote((match[2] as string).trim());
    switch (key) {
      case 'TIME_SCALE':
      case 'MIN_SECONDS':
      case 'DEFAULT_SECONDS': {
        const number = readNumber(value, key);
        if (typeof number === 'string') return refuse(number);
        const field = key === 'TIME_SCALE' ? 'timeScale' : key === 'MIN_SECONDS' ? 'minSeconds' : 'defaultSeconds';
        config = { ...config, [field]: number };
        break;
      }
      case 'DURATIONS_LOG':
        if (!value.startsWith('/')) return refuse(`DURATIONS_LOG must be an absolute path, got "${value}"`);
        config = { ...config, durationsLog: value };
        break;
      case 'FAIL':
        if (value !== 'never' && value !== 'always') return refuse(`FAIL must be never or always, got "${value}"`);
        config = { ...config, fail: value };
        break;
      case 'FAIL_CPVS':
      case 'NO_BINARY_CPVS':
      case 'HANG_CPVS': {
        const cpvs = readCpvList(value, key);
        if (typeof cpvs === 'string') return refuse(cpvs);
        const field = key === 'FAIL_CPVS' ? 'failCpvs' : key === 'NO_BINARY_CPVS' ? 'noBinaryCpvs' : 'hangCpvs';
        config = { ...config, [field]: cpvs };
        break;
      }
      default:
        return refuse(
          `unknown key ${key}; known keys: TIME_SCALE MIN_SECONDS DURATIONS_LOG DEFAULT_SECONDS FAIL FAIL_CPVS NO_BINARY_CPVS HANG_CPVS`,
        );
    }
  }
  return { ok: true, config };
}
