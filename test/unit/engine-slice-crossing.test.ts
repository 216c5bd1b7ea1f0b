/**
 * Tiles across a slice cut to what the slice's output reads (src/engine/validation.ts
 * sliceCrossing, src/protocol/network.ts sameReceptiveReach): the reach of a 'same' network is
 * exactly what its layers read (a voxel just beyond it changes nothing, one at its edge does),
 * and the thinner tiles give a slice of the chest CT the labels the full-thickness tile gave.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { readVolumeFile } from '../../src/core/readVolume';
import type { Vec3 } from '../../src/core/geometry';
import { initBackend } from '../../src/engine/backends';
import { createUNet, sameReceptiveReach, type UNetConfig } from '../../src/engine/model';
import { computeNormalization, normalizeVolume } from '../../src/engine/normalize';
import { extractPatch, outputMargin, patchAnchor } from '../../src/engine/sampler';
import { tf } from '../../src/engine/tf';
import { predictSliceTiles, sliceCrossing, sliceTiles, validationTile } from '../../src/engine/validation';
import { PRESETS } from '../../src/protocol/network';
import { dataPath, SKIP_WITHOUT_DATA } from '../helpers/data';

before(async () => {
  await initBackend((process.env.UNET3D_TEST_BACKEND ?? 'auto') as 'auto');
});

test('the reach of a same-padded network: an input voxel beyond it never changes the output, one at its edge does', async () => {
  const config: UNetConfig = { ...PRESETS.fast, baseFilters: 8, inChannels: 1, classes: 2 };
  const net = createUNet(config, 3);
  const reach = sameReceptiveReach(config.levels);
  const depth = 160;
  // A line of voxels along z (4×4 in plane: every voxel of it is within reach in plane).
  const base = Float32Array.from({ length: depth * 16 }, (_, i) => Math.sin(i * 0.37) + 0.3 * Math.cos(i * 1.7));
  const run = (input: Float32Array) => tf.tidy(() => net.apply(tf.tensor5d(input, [1, depth, 4, 4, 1]), false).dataSync() as Float32Array);
  const outputAt = (logits: Float32Array, z: number) => logits.slice(z * 16 * 2, (z + 1) * 16 * 2);
  const reference = run(base);
  try {
    for (let r = 0; r < 4; r++) {
      const p = 64 + r;
      for (const [side, z, inside] of [
        ['before', p - reach.before[r] - 1, false],
        ['before', p - reach.before[r], true],
        ['after', p + reach.after[r] + 1, false],
        ['after', p + reach.after[r], true],
      ] as const) {
        const changed = Float32Array.from(base);
        for (let i = 0; i < 16; i++) changed[z * 16 + i] += 50;
        const delta = outputAt(run(changed), p).reduce((m, v, i) => Math.max(m, Math.abs(v - outputAt(reference, p)[i])), 0);
        if (inside) assert.ok(delta > 0, `position ${r} mod 4: the voxel ${side}, at the edge of the reach, is read`);
        else assert.equal(delta, 0, `position ${r} mod 4: the voxel ${side}, one beyond the reach, is not read`);
      }
    }
  } finally {
    net.dispose();
  }
});

test('a tile cut to the reach gives a chest CT slice the labels of the full-thickness tile', { skip: SKIP_WITHOUT_DATA }, async () => {
  const volume = readVolumeFile(dataPath('semi', 'ctchest', 'CTChest4.nrrd'));
  const image = normalizeVolume(volume, computeNormalization(volume));
  const net = createUNet({ ...PRESETS.fast, inChannels: 1, classes: 3 }, 11);
  const geometry = { input: [92, 92, 16] as Vec3, output: [92, 92, 16] as Vec3 };
  const everything = 1e9;
  try {
    assert.deepEqual(sliceCrossing(net.config, 92), { thickness: 48, before: 22 }, 'the chest CT patch across an x or y slice');
    assert.deepEqual(sliceCrossing(net.config, 16), { thickness: 16, before: 8 }, 'a thinner tile stays as it is');
    for (const slice of [{ axis: 0 as const, index: 3 }, { axis: 1 as const, index: 70 }, { axis: 1 as const, index: 125 }]) {
      // The full-thickness tile, as the slice was predicted before: one tile over the whole plane.
      const tile = validationTile(image.dims, slice, geometry.output, everything, 4);
      const [start] = sliceTiles(image.dims, slice, tile);
      const tileGeometry = { input: tile, output: tile };
      const centre = [0, 1, 2].map((a) => start[a] - outputMargin(tileGeometry)[a] + patchAnchor(tile)[a]) as Vec3;
      const patch = extractPatch(image, centre, tileGeometry);
      const full = tf.tidy(() => tf.argMax(net.apply(tf.tensor5d(patch, [1, tile[2], tile[1], tile[0], 1]), false), -1).dataSync() as Int32Array);
      let compared = 0;
      await predictSliceTiles(net, { image }, slice, geometry, [undefined], everything, ([labels], at, size) => {
        assert.ok(size[slice.axis] < tile[slice.axis], 'the tile is thinner across the slice');
        for (let z = 0; z < size[2]; z++) {
          for (let y = 0; y < size[1]; y++) {
            for (let x = 0; x < size[0]; x++) {
              const p = [at[0] + x, at[1] + y, at[2] + z];
              if (p[slice.axis] !== slice.index || p.some((v, a) => v < 0 || v >= image.dims[a])) continue;
              const q = p.map((v, a) => v - start[a]);
              assert.equal(labels[x + size[0] * (y + size[1] * z)], full[q[0] + tile[0] * (q[1] + tile[1] * q[2])], `voxel ${p.join(', ')}`);
              compared++;
            }
          }
        }
      });
      const plane = image.dims.reduce((n, d) => n * d, 1) / image.dims[slice.axis];
      assert.equal(compared, plane, `every voxel of ${'xyz'[slice.axis]} = ${slice.index}`);
    }
  } finally {
    net.dispose();
  }
});
