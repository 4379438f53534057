// Plain formats for durations, times and counts.

/** `42 s`, `3 min 05 s`, `2 h 07 min`; `–` for an unknown value. */
export function duration(seconds) {
  if (seconds === undefined || seconds === null || !Number.isFinite(seconds)) return '–';
  const total = Math.max(0, Math.round(seconds));
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes} min ${String(total % 60).padStart(2, '0')} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** Local time of day (HH:MM:SS), with the date when not today. */
export function clock(ms) {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '–';
  const date = new Date(ms);
  const time = TIME.format(date);
  return DAY.format(date) === DAY.format(Date.now()) ? time : `${DAY.format(date)} ${time}`;
}

// One formatter each: a toLocale…String call builds a new one every time, which costs dearly over 1,500 bars.
const TIME = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const DAY = new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit' });

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

export function ratio(value) {
  return value === undefined || value === null || !Number.isFinite(value) ? '–' : `${value.toFixed(2)}×`;
}

/** CATEGORY/PF and attempt/drone of a kept log's API path (`/api/v1/logs/C/CAT/PF/ATTEMPT/DRONE`). */
export function describeLog(path) {
  const parts = path.split('/').map((part) => decodeURIComponent(part));
  const [attempt, drone] = parts.slice(-2);
  return { attempt, drone };
}
