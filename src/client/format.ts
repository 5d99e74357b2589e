import { stripVTControlCharacters } from 'node:util';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;

/**
 * A short, human age like kubectl's AGE column: exact seconds under two minutes,
 * then two units while the smaller one still matters (`3m20s`, `3h59m`, `5d4h`,
 * `2y30d`), then one unit. Ages up to one second in the future (clock skew) read `0s`.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / SECOND);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(ms / MINUTE);
  if (minutes < 10) return twoUnits(minutes, 'm', seconds % 60, 's');
  if (minutes < 3 * 60) return `${minutes}m`;
  const hours = Math.trunc(ms / HOUR);
  if (hours < 8) return twoUnits(hours, 'h', minutes % 60, 'm');
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(ms / DAY);
  if (days < 8) return twoUnits(days, 'd', hours % 24, 'h');
  const years = Math.trunc(ms / YEAR);
  if (years < 2) return `${days}d`;
  if (years < 8) return twoUnits(years, 'y', days % 365, 'd');
  return `${years}y`;
}

function twoUnits(big: number, bigUnit: string, small: number, smallUnit: string): string {
  return small === 0 ? `${big}${bigUnit}` : `${big}${bigUnit}${small}${smallUnit}`;
}

/** Age of an object created at `timestamp`, relative to `now`; empty when the timestamp is missing or unreadable. */
export function age(timestamp: string | null | undefined, now: number): string {
  if (!timestamp) return '';
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? '' : humanDuration(now - t);
}

/** Width of text on a terminal: escape sequences take no room, each code point one column. */
export function visibleWidth(text: string): number {
  return [...stripVTControlCharacters(text)].length;
}

/**
 * Aligns rows of cells into columns separated by at least `gap` spaces. The last
 * cell of each row is not padded, and trailing spaces are trimmed, so lines end
 * where their text ends. Widths ignore colour escape codes.
 */
export function alignColumns(rows: string[][], gap = 2): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.slice(0, -1).forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visibleWidth(cell));
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleWidth(cell) + gap),
        )
        .join('')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/**
 * Parses a duration the way Argo Rollouts reads `pause.duration` and `--in`: a bare
 * integer is seconds, otherwise a sequence of number+unit pairs (`1h30m`, `1.5s`,
 * `300ms`). Returns milliseconds, or undefined for anything else.
 */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input * SECOND : undefined;
  const text = input.trim();
  if (/^\d+$/.test(text)) return Number(text) * SECOND;
  if (text === '0') return 0;
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: SECOND,
    m: MINUTE,
    h: HOUR,
  };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let matched = 0;
  while (re.lastIndex < text.length) {
    const m = re.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * (units[m[2] as string] as number);
    matched++;
  }
  return matched > 0 ? total : undefined;
}
