import * as path from 'node:path';
import { axisCodes } from '../../core/geometry';
import { readVolumeFile } from '../../core/readVolume';
import { volumeStats } from '../../core/volume';
import { parseCommandArgs } from '../args';
import { UsageError, type CliCommand } from '../command';

/** What `unet3d info --json` prints. */
export interface InfoJson {
  format: string;
  dims: number[];
  spacing: number[];
  datatype: string;
  axcodes: string;
  affine: number[][];
  min: number;
  max: number;
  mean: number;
  /** Voxels left out of min, max and mean: NaN, and ±Infinity. */
  nanCount: number;
  infiniteCount: number;
  frames: number;
  /** What the reader worked around (e.g. an unusable sform), one sentence each. */
  warnings: string[];
  segments?: { value: number; name: string; color: number[] }[];
}

export const info: CliCommand = {
  summary: 'print a volume\'s format, grid, orientation, affine and intensity range',
  usage: `Usage: unet3d info FILE [--json]

  FILE    a .nii, .nii.gz, .nrrd or .nhdr volume
  --json  one JSON object: format, dims, spacing, datatype, axcodes, affine (4×4 rows), min, max, mean,
          nanCount, infiniteCount, warnings
Statistics are of the scaled voxels (scl_slope, scl_inter applied), over every frame of a 4D file;
NaN and ±Infinity voxels are left out of them and counted. Warnings say what the reader worked
around (e.g. an sform that is not invertible, replaced by the qform).`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
    if (positionals.length !== 1) throw new UsageError('expected exactly one FILE');
    const file = positionals[0];
    const volume = readVolumeFile(file, { allFrames: true });
    const stats = volumeStats(volume, volume.allFrames ?? volume.data);
    const report: InfoJson = {
      format: volume.format,
      dims: volume.dims,
      spacing: volume.spacing,
      datatype: volume.datatype,
      axcodes: axisCodes(volume.affine),
      affine: volume.affine,
      min: stats.min,
      max: stats.max,
      mean: stats.mean,
      nanCount: stats.nanCount,
      infiniteCount: stats.infiniteCount,
      frames: volume.frames,
      warnings: volume.warnings ?? [],
    };
    if (volume.segments) report.segments = volume.segments.map((s) => ({ value: s.value, name: s.name, color: s.color }));
    if (values.json) {
      process.stdout.write(JSON.stringify(report) + '\n');
      return 0;
    }
    // Six significant digits, trailing zeros dropped: a spacing stored as 0.99999994 prints as 1.
    const fmt = (v: number) => (Number.isFinite(v) ? String(Number(v.toPrecision(6))) : String(v));
    const lines = [
      `file       ${path.basename(file)}`,
      `format     ${volume.format}`,
      `dims       ${volume.dims.join(' × ')}${volume.frames > 1 ? `  (${volume.frames} frames; the first is used)` : ''}`,
      `spacing    ${volume.spacing.map(fmt).join(' × ')} mm`,
      `datatype   ${volume.datatype}${volume.sclSlope !== 1 || volume.sclInter !== 0 ? `  (scaled: × ${fmt(volume.sclSlope)} + ${fmt(volume.sclInter)})` : ''}`,
      `axcodes    ${report.axcodes}`,
      `affine     ${volume.affine.map((row) => row.map((v) => fmt(v).padStart(12)).join(' ')).join('\n           ')}`,
      `min        ${fmt(stats.min)}`,
      `max        ${fmt(stats.max)}`,
      `mean       ${fmt(stats.mean)}`,
      `NaN        ${stats.nanCount} voxels${stats.infiniteCount ? `; ±Infinity ${stats.infiniteCount} voxels` : ''} (left out of min, max and mean)`,
    ];
    if (volume.layers) lines.push(`layers     ${volume.layers.length} (overlapping segments)`);
    if (volume.segments) {
      lines.push(`segments   ${volume.segments.map((s) => `${s.value}: ${s.name}${volume.layers ? ` (layer ${s.layer})` : ''}`).join('\n           ')}`);
    }
    for (const warning of report.warnings) lines.push(`warning    ${warning}`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
