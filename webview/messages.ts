/**
 * What the status line says after an edit that deserves a word: a prediction accepted on a
 * slice (how many voxels, which classes), and a slice that just became an annotated slice with
 * hardly any labels (a stray click?). Pure: unit-tested. Slices are numbered from 1, as the pane
 * headers number them.
 */
import { describeSlice, type PlaneName } from '../src/core/planes';
import { plural } from '../src/core/words';

/** A class's name by label value (undefined for a value without a class). */
export type ClassNameOf = (value: number) => string | undefined;

/** "1,234" */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** "1 voxel", "3,025 voxels" */
export function voxelCount(n: number): string {
  return plural(n, 'voxel');
}

/**
 * After "Accept on this slice": how many voxels took a class from the prediction, and which
 * classes, most voxels first: "Accepted the prediction on axial slice 28 of 55: 3,025 voxels
 * labeled (background 2,980, cord 45). Ctrl+Z undoes it."
 */
export function acceptedPredictionMessage(plane: PlaneName, index: number, count: number, changed: ReadonlyMap<number, number>, nameOf: ClassNameOf): string {
  const total = [...changed.values()].reduce((a, b) => a + b, 0);
  const classes = [...changed.entries()]
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .map(([value, n]) => `${nameOf(value) ?? `class ${value}`} ${formatCount(n)}`);
  return `Accepted the prediction on ${describeSlice(plane, index, count)}: ${voxelCount(total)} labeled (${classes.join(', ')}). Ctrl+Z undoes it.`;
}

/**
 * When an edit made a slice annotated with fewer labeled voxels than a real annotation holds:
 * training learns from every annotated slice, so say what happened and what to do.
 */
export function nearlyEmptySliceMessage(plane: PlaneName, index: number, count: number, ownVoxels: number): string {
  return (
    `${capitalized(describeSlice(plane, index, count))} is now an annotated slice with only ${voxelCount(ownVoxels)}: ` +
    'training learns from every annotated slice. Label it fully (Shift+F fills the rest), or erase a stray click (E).'
  );
}

/** The text with its first letter in capitals. */
export function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
