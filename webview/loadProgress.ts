/**
 * What the editor shows while the voxels stream in: the progress line for the status bar, and on
 * each pane whose slice has not arrived yet a note saying so (its image fills in as the voxels
 * come). The words are made by pure functions.
 */
import type { PlaneName } from '../src/core/planes';

/** Mebibytes, one decimal below 10. */
function mib(bytes: number): string {
  const m = bytes / 1024 / 1024;
  return m < 10 ? m.toFixed(1) : m.toFixed(0);
}

/** The status line while the voxels stream in, e.g. "Loading t2.nii.gz: 45 % (121 of 268 MiB) …". */
export function loadingLine(fileName: string, filled: number, total: number, planesShown: boolean): string {
  const percent = total ? Math.floor((filled / total) * 100) : 100;
  const what = `Loading ${fileName}: ${percent} % (${mib(filled)} of ${mib(total)} MiB)`;
  return planesShown ? `${what}. The planes through the crosshair are ready to paint; other slices appear as they arrive.` : `${what}…`;
}

/** The note over a pane whose slice is not there yet. */
export function paneLoadingNote(plane: PlaneName, percent: number): string {
  return `Loading this ${plane} slice… ${percent} %`;
}

/** Shows (text) or removes (undefined) the loading note over a pane's element. */
export function setPaneNote(paneElement: HTMLElement, text: string | undefined): void {
  let note = paneElement.querySelector<HTMLDivElement>(':scope > .pane-loading');
  if (text === undefined) {
    note?.remove();
    return;
  }
  if (!note) {
    note = document.createElement('div');
    note.className = 'pane-loading';
    paneElement.append(note);
  }
  if (note.textContent !== text) note.textContent = text;
}
