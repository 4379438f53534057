/**
 * The monitor's text: durations, progress bars, fixed-width columns. Pure; every string shown on screen goes
 * through `plainText`, so a build log or a drone's reason can never move the cursor or change colours.
 */

/** Removes terminal escape sequences and control characters; tabs become spaces. */
export function plainText(text: string): string {
  // A carriage return inside a line (a progress meter) keeps what was written last.
  const written = text.split('\r').filter((segment) => segment !== '').at(-1) ?? '';
  return (
    written
      // CSI (colours, cursor moves), OSC (titles, links: ended by BEL or ST), and other two-character escapes.
      .replace(/\u001b\[[0-?]*[ -/]*[@-~]/g, '')
      .replace(/\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?/g, '')
      .replace(/\u001b[@-_]?/g, '')
      .replace(/\u009b[0-?]*[ -/]*[@-~]/g, '')
      .replace(/\t/g, '  ')
      .replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
  );
}

/** `45s`, `3m05s`, `2h04m`, `3d05h`; `-` for an unknown duration. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '-';
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m${String(whole % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}

/** `[#####-----]` of `width` characters in all (brackets included); a fraction above 1 fills it. */
export function progressBar(fraction: number | undefined, width: number): string {
  const inner = Math.max(1, width - 2);
  if (fraction === undefined || !Number.isFinite(fraction)) return `[${'?'.padEnd(inner, ' ')}]`;
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * inner);
  return `[${'#'.repeat(filled)}${'-'.repeat(inner - filled)}]`;
}

/** `52%`; `?` when unknown. Not capped: a build past its expected time reads `130%`. */
export function percent(fraction: number | undefined): string {
  if (fraction === undefined || !Number.isFinite(fraction)) return '?';
  return `${Math.floor(Math.max(0, fraction) * 100)}%`;
}

/** Exactly `width` characters: cut with `~` when longer, padded with spaces when shorter. */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  const plain = plainText(text);
  if (plain.length <= width) return plain.padEnd(width, ' ');
  if (width === 1) return '~';
  return `${plain.slice(0, width - 1)}~`;
}

/** Like `fit`, aligned right. */
export function fitRight(text: string, width: number): string {
  const plain = plainText(text);
  return plain.length >= width ? fit(plain, width) : plain.padStart(width, ' ');
}

/** `HH:MM:SS` of an epoch ms, local time. */
export function clockTime(epochMs: number): string {
  const date = new Date(epochMs);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((part) => String(part).padStart(2, '0')).join(':');
}
