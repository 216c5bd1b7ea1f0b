/** Small helpers shared by the benchmarks. */
import { spawnSync } from 'node:child_process';

export { median } from '../../core/statistics';

/** Runs this CLI again in a fresh process (so its peak memory is its own) and parses the JSON it prints last. */
export function runCliChild<T>(args: string[]): T {
  const result = spawnSync(process.execPath, [process.argv[1], ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`benchmark child failed (${args.join(' ')}): ${result.stderr.trim().split('\n').pop()}`);
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

/** Peak resident memory of this process so far, in bytes. */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}
