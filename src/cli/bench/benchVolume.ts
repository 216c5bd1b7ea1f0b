/**
 * The volume the I/O and segmentation benchmarks read: a real CT (by default the spleen CT of
 * ../shared/data) resampled to size³ and written as an int16 .nii.gz in a temporary folder.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeNiftiGz } from '../../core/niftiWriter';
import { readVolumeFile } from '../../core/readVolume';
import { resampleTrilinear } from '../../core/resample';
import { UsageError } from '../command';

const SPLEEN_CT = 'semi/spleen/sub-spleen2_ct.nii.gz';

/** The shared data folder (../shared/data of the project, or $UNET3D_DATA), where it can be found. */
export function sharedDataDir(): string | undefined {
  const candidates = [process.env.UNET3D_DATA, path.resolve(__dirname, '../../shared/data'), path.resolve(process.cwd(), '../shared/data')];
  return candidates.find((c): c is string => !!c && fs.existsSync(path.join(c, 'semi')));
}

/** The spleen CT of the shared data, where it can be found. */
function defaultSource(): string | undefined {
  const dir = sharedDataDir();
  return dir && fs.existsSync(path.join(dir, SPLEEN_CT)) ? path.join(dir, SPLEEN_CT) : undefined;
}

/**
 * Writes `source` (default: the spleen CT) resampled to size³ as int16 (CT's usual type: other
 * sources are rounded into it) into a new temporary folder named after `prefix`: the file, its
 * folder (the caller removes it) and the source used.
 */
export function writeBenchVolume(source: string | undefined, size: number, prefix: string): { file: string; dir: string; source: string } {
  const from = source ?? defaultSource();
  if (!from) throw new UsageError(`no --source given and ../shared/data/${SPLEEN_CT} not found`);
  const volume = readVolumeFile(from);
  const int16 = volume.data instanceof Int16Array ? volume.data : Int16Array.from(volume.data, (v) => Math.max(-32768, Math.min(32767, Math.round(v * volume.sclSlope + volume.sclInter))));
  const resampled = resampleTrilinear(int16, volume.dims, volume.affine, [size, size, size]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const file = path.join(dir, `ct_${size}.nii.gz`);
  fs.writeFileSync(file, encodeNiftiGz({ dims: [size, size, size], affine: resampled.affine, data: resampled.data, intentCode: 0 }));
  return { file, dir, source: from };
}
