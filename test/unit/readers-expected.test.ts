/**
 * Every file in ../shared/data/formats against the reader ground truth in expected.json
 * (nibabel 5.0 for NIfTI, a reference NRRD parser for NRRD): dimensions, datatype, the RAS
 * affine (for NRRD built here from `space`, `space directions` and `space origin`), spacing, byte
 * order, and per-slice sums along each axis from an independent Python reader
 * (test/fixtures/formats_axis_sums.py), which a wrong voxel order, flip or byte swap changes.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { axisCodes, type Mat4 } from '../../src/core/geometry';
import { readNiftiHeader } from '../../src/core/nifti';
import { parseNrrdHeader } from '../../src/core/nrrd';
import { readVolumeFile } from '../../src/core/readVolume';
import { VolumeError } from '../../src/core/errors';
import { volumeStats, type Volume } from '../../src/core/volume';
import { REPO_ROOT, SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

interface Expected {
  format: 'nifti1' | 'nifti2' | 'nrrd';
  dim?: number[];
  sizes?: number[];
  datatype?: number;
  dtype?: string;
  affine_ras?: number[][];
  axcodes?: string;
  /** NIfTI: '<' little-endian, '>' big-endian. */
  endianness?: '<' | '>';
  /** NIfTI: voxel sizes along x, y, z (mm). */
  pixdim?: number[];
  /** NRRD: the header's fields as written, e.g. 'left-posterior-superior', '(0.78,0,0) (0,-0.78,0) (0,0,6.5)', '(-99.6,99.6,-78)'. */
  space?: string | null;
  space_directions?: string;
  space_origin?: string;
  min?: number;
  max?: number;
  sum?: number;
  complex?: boolean;
}

const NIFTI_CODES: Record<number, string> = { 2: 'uint8', 4: 'int16', 8: 'int32', 16: 'float32', 64: 'float64', 256: 'int8', 512: 'uint16', 768: 'uint32' };
const expected: Record<string, Expected> = SKIP_WITHOUT_DATA ? {} : JSON.parse(fs.readFileSync(dataPath('formats', 'expected.json'), 'utf8'));

/** What the independent Python reader found (test/fixtures/formats_axis_sums.py writes it). */
interface AxisSums {
  byteOrder: 'little' | 'big';
  /** Per spatial axis x, y, z: the sum of the scaled voxels of each slice across it (all frames and layers). */
  axisSums: [number[], number[], number[]];
}
const axisSums: Record<string, AxisSums> = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'formats-axis-sums.json'), 'utf8'));

/** "(a,b,c) none (d,e,f)" → vectors, null for "none". */
function nrrdVectors(text: string): (number[] | null)[] {
  return text.trim().split(/\s+/).map((v) => (v === 'none' ? null : v.replace(/[()]/g, '').split(',').map(Number)));
}

/**
 * The voxel-to-RAS affine of an NRRD from its header fields: columns are the spatial axes' space
 * directions, the last column the space origin, rows turned from the file's space to RAS (LPS:
 * x and y negated). Without a `space` field the vectors are read as ITK does, in LPS; a 2D image
 * gets the unit normal as its third column.
 */
function nrrdAffineRas(e: Expected): Mat4 {
  const space = e.space ?? 'left-posterior-superior';
  const sign: Record<string, number[]> = { 'left-posterior-superior': [-1, -1, 1], 'right-anterior-superior': [1, 1, 1], 'left-anterior-superior': [-1, 1, 1] };
  assert.ok(sign[space], `a space this test knows: ${space}`);
  const columns = nrrdVectors(e.space_directions!).filter((v): v is number[] => v !== null);
  while (columns.length < 3) columns.push([0, 0, 0].map((_, r) => (r === columns.length ? 1 : 0)));
  const origin = nrrdVectors(e.space_origin ?? '(0,0,0)')[0]!;
  const affine = [0, 1, 2].map((r) => [...columns.map((c) => sign[space][r] * (c[r] ?? 0)), sign[space][r] * (origin[r] ?? 0)]);
  return [...affine, [0, 0, 0, 1]] as Mat4;
}

/** Spacing along x, y, z the ground truth gives: NIfTI pixdim, or the lengths of NRRD's space directions. */
function expectedSpacing(e: Expected): number[] {
  if (e.pixdim) return e.pixdim;
  const lengths = nrrdVectors(e.space_directions!).filter((v): v is number[] => v !== null).map((v) => Math.hypot(...v));
  while (lengths.length < 3) lengths.push(1);
  return lengths;
}

/** Per-slice sums of the scaled voxels along each axis, over every frame and layer. */
function volumeAxisSums(volume: Volume): number[][] {
  const [nx, ny, nz] = volume.dims;
  const stacks = volume.layers ?? [volume.allFrames ?? volume.data];
  const sums = [new Float64Array(nx), new Float64Array(ny), new Float64Array(nz)];
  let voxelsPerVolume = 0;
  for (const data of stacks) {
    const frames = data.length / (nx * ny * nz);
    voxelsPerVolume += frames;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      const x = i % nx;
      const y = Math.floor(i / nx) % ny;
      const z = Math.floor(i / (nx * ny)) % nz;
      sums[0][x] += v;
      sums[1][y] += v;
      sums[2][z] += v;
    }
  }
  // Scaling per slice: slope × Σ stored + intercept × voxels in the slice (all frames and layers).
  const perSlice = [ny * nz, nx * nz, nx * ny].map((n) => n * voxelsPerVolume);
  return sums.map((s, a) => Array.from(s, (v) => v * volume.sclSlope + volume.sclInter * perSlice[a]));
}

function assertAffine(actual: Mat4, wanted: number[][], what: string): void {
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      assert.ok(Math.abs(actual[r][c] - wanted[r][c]) <= 1e-4, `${what}[${r}][${c}] = ${actual[r][c]}, expected ${wanted[r][c]}`);
    }
  }
}

function assertClose(actual: number, wanted: number, relative: number, what: string): void {
  const scale = Math.max(1, Math.abs(wanted));
  assert.ok(Math.abs(actual - wanted) <= relative * scale, `${what}: ${actual} is not within ${relative} of ${wanted}`);
}

describe('readers against expected.json', { skip: SKIP_WITHOUT_DATA }, () => {
  for (const [name, e] of Object.entries(expected)) {
    test(name, () => {
      const file = dataPath('formats', name);
      if (e.complex) {
        assert.throws(
          () => readVolumeFile(file),
          (error: unknown) =>
            error instanceof VolumeError &&
            error.code === 'unsupported-datatype' &&
            /^unsupported datatype 32 \(COMPLEX64\)/.test(error.message),
        );
        return;
      }
      const volume = readVolumeFile(file, { allFrames: true });
      assert.equal(volume.format, e.format);
      const sizes = e.dim ?? e.sizes!;
      if (e.format === 'nrrd') {
        // The spatial axes; a leading list axis (layers) or 2D image are reported apart.
        const spatial = sizes.length === 4 ? sizes.slice(1) : sizes.length === 2 ? [...sizes, 1] : sizes;
        assert.deepEqual(volume.dims, spatial);
        if (sizes.length === 4) assert.equal(volume.layers?.length, sizes[0]);
        assert.equal(volume.datatype, e.dtype);
      } else {
        assert.deepEqual(volume.dims, sizes.slice(0, 3));
        assert.equal(volume.frames, sizes.slice(3).reduce((a, b) => a * b, 1));
        assert.equal(volume.datatype, NIFTI_CODES[e.datatype!]);
      }
      if (e.affine_ras) assertAffine(volume.affine, e.affine_ras, 'affine');
      if (e.axcodes) assert.equal(axisCodes(volume.affine), e.axcodes);
      if (e.format === 'nrrd') {
        assert.ok(e.space_directions, 'expected.json gives the space directions');
        assertAffine(volume.affine, nrrdAffineRas(e), 'affine from space, space directions and space origin');
      }
      const spacing = expectedSpacing(e);
      volume.spacing.forEach((s, a) => assertClose(s, spacing[a], 1e-6, `spacing along axis ${a}`));
      // Byte order: the header's, against the independent readers'; the per-slice sums below
      // show the voxels were swapped (or not) accordingly.
      const bytes = fs.readFileSync(file);
      const truth = axisSums[name];
      assert.ok(truth, `${name} is in test/fixtures/formats-axis-sums.json (run formats_axis_sums.py)`);
      if (e.format === 'nrrd') {
        assert.equal((parseNrrdHeader(bytes).fields.get('endian') ?? 'little') === 'big' ? 'big' : 'little', truth.byteOrder);
      } else {
        const littleEndian = readNiftiHeader(bytes).littleEndian;
        assert.equal(littleEndian, e.endianness === '<', `byte order: expected ${e.endianness}`);
        assert.equal(littleEndian ? 'little' : 'big', truth.byteOrder);
      }
      const sums = volumeAxisSums(volume);
      truth.axisSums.forEach((wanted, a) => {
        assert.equal(sums[a].length, wanted.length, `slices along axis ${a}`);
        wanted.forEach((w, i) => assertClose(sums[a][i], w, 1e-7, `sum of slice ${i} across axis ${a}`));
      });
      // Statistics over every stored value (all frames, all layers), as the ground truth has them.
      const stats = volumeStats(volume, volume.allFrames ?? volume.data);
      assertClose(stats.min, e.min!, 1e-6, 'min');
      assertClose(stats.max, e.max!, 1e-6, 'max');
      assertClose(stats.sum, e.sum!, 1e-6, 'sum');
    });
  }
});

test('the NIfTI and NRRD copies of niivue_FLAIR hold the same voxels and RAS geometry', { skip: SKIP_WITHOUT_DATA }, () => {
  const nifti = readVolumeFile(dataPath('formats', 'niivue_FLAIR.nii.gz'));
  const nrrd = readVolumeFile(dataPath('formats', 'niivue_FLAIR.nrrd'));
  assert.deepEqual(nrrd.dims, nifti.dims);
  assert.equal(nrrd.datatype, nifti.datatype);
  assert.ok(Buffer.from(nrrd.data.buffer, nrrd.data.byteOffset, nrrd.data.byteLength).equals(
    Buffer.from(nifti.data.buffer, nifti.data.byteOffset, nifti.data.byteLength),
  ), 'voxels differ');
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      assert.ok(Math.abs(nrrd.affine[r][c] - nifti.affine[r][c]) < 1e-4, `affine[${r}][${c}]: ${nrrd.affine[r][c]} vs ${nifti.affine[r][c]}`);
    }
  }
  for (let a = 0; a < 3; a++) assert.ok(Math.abs(nrrd.spacing[a] - nifti.spacing[a]) < 1e-4);
});

test('3D Slicer segment names, colours and label values come from the Segment fields', { skip: SKIP_WITHOUT_DATA }, () => {
  const seg = readVolumeFile(dataPath('semi', 'ctchest', 'Segmentation.seg.nrrd'));
  assert.equal(seg.segments?.length, 7);
  assert.deepEqual(seg.segments!.map((s) => s.value), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(seg.segments![0].name, 'ribs');
  assert.equal(seg.segments![4].name, 'right lung');
  assert.deepEqual(seg.segments![0].color, [0.992157, 0.909804, 0.619608]);
  const layered = readVolumeFile(dataPath('formats', 'SegmentationOverlapping.seg.nrrd'));
  assert.equal(layered.layers?.length, 2);
  assert.ok(layered.segments!.some((s) => s.layer === 1), 'a segment lies in layer 1');
  assert.equal(layered.data, layered.layers![0]);
});
