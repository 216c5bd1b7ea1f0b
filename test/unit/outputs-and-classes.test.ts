/**
 * Work is never lost to an output: `train --out` into a folder that cannot be made fails at once
 * (no recursive mkdir that loops), `segment` checks that its outputs can be written and are none
 * of the image's label files before it predicts anything; and a class list of more than 255
 * classes widens the label map on load, in the host and in the webview, so class 300 stays 300.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { commands } from '../../src/cli/commands';
import { encodeLabelRuns, type LabelDelta } from '../../src/core/editDeltas';
import { checkWritableFolder, makeFolders } from '../../src/core/folders';
import { classesUpTo, defaultClasses, labelFileKindOf } from '../../src/core/labels';
import type { VolumeInfo } from '../../src/protocol/webview';
import { LabelLayer } from '../../src/extension/volumeEditor/labelLayer';
import { DocumentStore } from '../../webview/store';
import { captureStdout } from '../helpers/stdout';
import { SKIP_WITHOUT_DATA, dataPath, tempDir } from '../helpers/data';

const dir = tempDir('outputs');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  return (await captureStdout(() => commands[name].run(rest))).result;
}

const HAVE_PROC = fs.existsSync('/proc/self');
const isRoot = process.getuid?.() === 0;

describe('output folders', () => {
  test('makeFolders makes every missing level, and says which one it could not make', () => {
    const deep = path.join(dir, 'a', 'b', 'c');
    makeFolders(deep);
    assert.ok(fs.statSync(deep).isDirectory());
    makeFolders(deep); // already there: nothing to do
    fs.writeFileSync(path.join(dir, 'file'), '');
    assert.throws(() => makeFolders(path.join(dir, 'file', 'x')), /cannot create the folder .*file\/x: .*file exists and is not a folder/);
    if (HAVE_PROC) assert.throws(() => makeFolders('/proc/x/y'), /cannot create the folder \/proc\/x \(ENOENT/);
  });

  test('checkWritableFolder writes a probe and removes it; a folder that cannot be written is named', () => {
    checkWritableFolder(dir, 'the output folder');
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('probe')), []);
    assert.throws(() => checkWritableFolder(path.join(dir, 'none'), 'the output folder'), /the output folder .*none does not exist/);
    if (HAVE_PROC) assert.throws(() => checkWritableFolder('/proc', 'the output folder'), /cannot write into the output folder \/proc/);
    if (!isRoot) {
      const locked = path.join(dir, 'locked');
      fs.mkdirSync(locked, { mode: 0o555 });
      assert.throws(() => checkWritableFolder(locked, 'the output folder'), /cannot write into the output folder .*locked \(EACCES/);
    }
  });

  test('unet3d train --out /proc/x fails at once with the reason', { skip: !HAVE_PROC || SKIP_WITHOUT_DATA }, async () => {
    const image = dataPath('semi', 'spinalcord', 't2.nii.gz');
    const labels = dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz');
    await assert.rejects(cli('train', '--image', image, '--labels', labels, '--out', '/proc/x/run'), /cannot create the folder \/proc\/x \(ENOENT/);
  });
});

describe('segment checks its outputs before predicting', { skip: SKIP_WITHOUT_DATA }, () => {
  // The run folder does not exist: an output error proves the outputs were checked first.
  const noRun = path.join(dir, 'no-run');
  const copy = () => {
    const image = path.join(dir, 't2.nii.gz');
    if (!fs.existsSync(image)) fs.copyFileSync(dataPath('semi', 'spinalcord', 't2.nii.gz'), image);
    return image;
  };

  test("an --out that is one of the image's label files is refused", async () => {
    const image = copy();
    for (const out of ['t2.labels.nii.gz', 'T2.LABELS.NII.GZ', 't2.labels.nii']) {
      await assert.rejects(cli('segment', '--run', noRun, '--image', image, '--out', path.join(dir, out)), /is one of t2\.nii\.gz's label files: a segmentation never overwrites the painted labels/, out);
    }
    await assert.rejects(
      cli('segment', '--run', noRun, '--image', image, '--out', path.join(dir, 'ok.seg.nii.gz'), '--probabilities', path.join(dir, 't2.labels.nii.gz')),
      /label files/,
    );
    const annotations = path.join(dir, 'my-annotations.nii.gz');
    await assert.rejects(cli('segment', '--run', noRun, '--image', image, '--labels', annotations, '--out', annotations), /is an input of this segmentation/);
    assert.equal(labelFileKindOf('t2.nii.gz', 't2.labels.json'), 'classes');
    assert.equal(labelFileKindOf('t2.nii.gz', 't2.seg.nii.gz'), undefined);
  });

  test('an output folder that cannot be written is refused before anything is predicted', { skip: !HAVE_PROC }, async () => {
    await assert.rejects(cli('segment', '--run', noRun, '--image', copy(), '--out', '/proc/t2.seg.nii.gz'), /cannot write into the output folder \/proc/);
  });
});

describe('more than 255 classes widen the label map on load', () => {
  const classes = classesUpTo(defaultClasses(), 300);
  const stroke: LabelDelta = { frame: { kind: 'slice', axis: 2, index: 0 }, runs: Uint32Array.from([1, 2, 0, 300]) };

  test('in the host: the layer holds uint16 and class 300 stays 300', () => {
    const layer = new LabelLayer([4, 1, 1], new Uint8Array(4), classes, () => undefined);
    assert.ok(layer.labels instanceof Uint16Array);
    const made = layer.applyViewEdit(stroke, 'Brush', {});
    assert.ok(made.edit, made.problem);
    assert.deepEqual([...layer.labels], [0, 300, 300, 0]);
    layer.replace(new Uint8Array(4), classes); // revert to a uint8 map on disk
    assert.ok(layer.labels instanceof Uint16Array);
  });

  test('in the webview: the store widens on the class list, whatever label type it was told', () => {
    const info: VolumeInfo = {
      fileName: 'x.nii.gz', format: 'nifti1', dims: [4, 1, 1], spacing: [1, 1, 1], affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
      datatype: 'uint8', sclSlope: 1, sclInter: 0, axisCodes: 'RAS', byteLength: 4, frames: 1, warnings: [],
    };
    const store = new DocumentStore(info, 'uint8');
    store.setClasses(classes);
    assert.ok(store.labels instanceof Uint16Array);
    store.setLabels(encodeLabelRuns(Uint16Array.from([0, 300, 0, 2])), 'uint8');
    assert.deepEqual([...store.labels], [0, 300, 0, 2]);
    store.applyDelta({ frame: { kind: 'slice', axis: 2, index: 0 }, runs: Uint32Array.from([0, 1, 0, 299]) }, 'forward');
    assert.equal(store.labels[0], 299);
  });
});
