/**
 * The volume the I/O and segmentation benchmarks read: a real CT (by default the spleen CT of
 * ../shared/data) resampled to size³ and written as an int16 .nii.gz in a temporary folder.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeNiftiGz } from '../../core/niftiWriter';
import { readVolumeFile } from '../../core/readVolume';
import { Random } from '../../core/random';
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
 * sources are rounded into it) into a new temporary folder named after `prefix` (or into `dir`):
 * the file, its folder (the caller removes it) and the source used. `noise`: the standard
 * deviation in HU of seeded noise added to every voxel, so the file compresses like a real CT
 * (a resampled volume is smoother than any scan, and compresses far better).
 */
export function writeBenchVolume(source: string | undefined, size: number, prefix: string, options: { noise?: number; dir?: string } = {}): { file: string; dir: string; source: string } {
  const from = source ?? defaultSource();
  if (!from) throw new UsageError(`no --source given and ../shared/data/${SPLEEN_CT} not found`);
  const volume = readVolumeFile(from);
  const int16 = volume.data instanceof Int16Array ? volume.data : Int16Array.from(volume.data, (v) => Math.max(-32768, Math.min(32767, Math.round(v * volume.sclSlope + volume.sclInter))));
  const resampled = resampleTrilinear(int16, volume.dims, volume.affine, [size, size, size]);
  if (options.noise) addNoise(resampled.data as Int16Array, options.noise);
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const file = path.join(dir, `ct_${size}.nii.gz`);
  fs.writeFileSync(file, encodeNiftiGz({ dims: [size, size, size], affine: resampled.affine, data: resampled.data, intentCode: 0 }));
  return { file, dir, source: from };
}

/** Adds seeded noise of standard deviation `sd` (a sum of three uniform draws: close to normal) to every voxel, clamped to int16. */
function addNoise(data: Int16Array, sd: number): void {
  const random = new Random(20260);
  const scale = sd * 2; // three uniforms on [-0.5, 0.5) sum to a standard deviation of 0.5
  for (let i = 0; i < data.length; i++) {
    const n = (random.next() + random.next() + random.next() - 1.5) * scale;
    data[i] = Math.max(-32768, Math.min(32767, Math.round(data[i] + n)));
  }
}
