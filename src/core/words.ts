/** Counts in words a user reads: "1 tile", "2 tiles", "3,025 voxels". Pure. */

/** `n` with `word` in the singular or the plural (`pluralWord`, by default `word` + "s"); thousands separated. */
export function plural(n: number, word: string, pluralWord = `${word}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? word : pluralWord}`;
}

/** A reason as a sentence: its first letter in capitals and a full stop at the end. */
export function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return trimmed;
  const first = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?…]$/.test(first) ? first : `${first}.`;
}
