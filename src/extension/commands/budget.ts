/** Pure helpers of the Train command: budgets as typed, and run folder names. Unit-tested. */

/** How long a training may run: a number of iterations, or minutes. */
export type Budget = { kind: 'iterations'; value: number } | { kind: 'minutes'; value: number };

/** The key a budget is remembered by, e.g. "iterations:500". */
export const budgetKey = (b: Budget): string => `${b.kind}:${b.value}`;

/** Parses "500", "500 iterations", "5m", "5 min", "1.5 minutes". */
export function parseBudget(text: string): Budget | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(it|its|iter|iterations?|m|min|mins|minutes?)?\s*$/i.exec(text);
  if (!m) return undefined;
  const value = Number(m[1]);
  const minutes = m[2] !== undefined && /^m/i.test(m[2]);
  if (minutes) return value > 0 ? { kind: 'minutes', value } : undefined;
  return Number.isInteger(value) && value >= 1 ? { kind: 'iterations', value } : undefined;
}

/** A run folder name from the local date and time and a title: `20261127-132400-t2`. */
export function runFolderName(title: string, date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
  const slug = title.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return slug ? `${stamp}-${slug}` : stamp;
}
