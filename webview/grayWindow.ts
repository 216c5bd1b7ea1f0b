/**
 * The window/level the gray image is drawn with: the window now and its name, the presets
 * offered for this volume, and the lookup table that applies it to 8- and 16-bit voxels. Pure.
 */
import type { VoxelArray } from '../src/core/datatypes';
import { volumeStats } from '../src/core/volume';
import {
  automaticWindow,
  CT_PRESETS,
  grayLookupTable,
  initialWindow,
  looksLikeCt,
  percentilesOfSorted,
  sortedSample,
  windowOfRange,
  type WindowLevel,
  type WindowPreset,
} from '../src/core/windowLevel';
import type { VolumeInfo } from '../src/protocol/webview';

export class GrayWindow {
  /** The window now, in scaled intensity units. */
  window: WindowLevel = { width: 1, level: 0.5 };
  /** The preset it came from, or 'Custom'. */
  name = 'Automatic';
  /** The presets for this volume (filled once its voxels have arrived). */
  presets: WindowPreset[] = [];
  /** Stored value (+ lookupOffset) → gray, for 8- and 16-bit volumes; undefined for wider types or before the voxels arrive. */
  lookup: Uint8Array | undefined;
  /** Bumped whenever the window changes (panes cache their gray images until then). */
  version = 0;

  constructor(private readonly info: Pick<VolumeInfo, 'datatype' | 'sclSlope' | 'sclInter'>) {}

  /**
   * Takes the presets from the voxels (automatic, full range, 2–98 %, and CT windows for CT) and
   * the window to open with: CT soft tissue for a CT, else the automatic one. The percentiles are
   * read from at most `maxSamples` voxels spread over them.
   */
  fit(voxels: VoxelArray, maxSamples?: number): void {
    const { sclSlope, sclInter } = this.info;
    const stats = volumeStats({ data: voxels, sclSlope, sclInter });
    const sorted = sortedSample(voxels, maxSamples);
    const automatic = automaticWindow(voxels, sclSlope, sclInter, sorted);
    const initial = initialWindow(automatic, stats.min, stats.max);
    this.window = { width: initial.width, level: initial.level };
    this.name = initial.name;
    const presets: WindowPreset[] = [
      { name: 'Automatic', ...automatic },
      { name: 'Full range', ...windowOfRange(stats.min, stats.max) },
      { name: '2–98 %', ...windowOfRange(...percentilesOfSorted(sorted, sclSlope, sclInter, 2, 98)) },
    ];
    if (looksLikeCt(stats.min, stats.max)) presets.push(...CT_PRESETS);
    this.presets = presets;
    this.updateLookup();
  }

  /** Sets the window (its width kept above zero) under `name`. */
  set(window: WindowLevel, name: string): void {
    this.window = { width: Math.max(window.width, 1e-6), level: window.level };
    this.name = name;
    this.updateLookup();
  }

  /** Makes every pane compose its gray image again (for the benchmark). */
  dropCaches(): void {
    this.version++;
  }

  private updateLookup(): void {
    const { datatype, sclSlope, sclInter } = this.info;
    this.lookup = grayLookupTable(datatype, sclSlope, sclInter, this.window);
    this.version++;
  }
}
