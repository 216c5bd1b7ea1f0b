/** Small wrappers over node:util parseArgs that turn its errors into usage errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './command';

export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Parses "X,Y,Z" into three positive integers. */
export function parseTriple(text: string, what: string): [number, number, number] {
  const parts = text.split(/[,x×]/).map((p) => Number(p.trim()));
  if (parts.length !== 3 || parts.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UsageError(`${what} must be three positive integers "X,Y,Z", not "${text}"`);
  }
  return parts as [number, number, number];
}

/** Parses a finite number option, with bounds. */
export function parseNumber(text: string | undefined, what: string, min = -Infinity, max = Infinity): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`${what} must be a number from ${min} to ${max}, not "${text}"`);
  return n;
}
