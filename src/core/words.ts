/** Counts in words a user reads: "1 tile", "2 tiles", "3,025 voxels". Pure. */

/** `n` with `word` in the singular or the plural (`pluralWord`, by default `word` + "s"); thousands separated. */
export function plural(n: number, word: string, pluralWord = `${word}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? word : pluralWord}`;
}
