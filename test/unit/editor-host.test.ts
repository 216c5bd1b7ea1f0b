/** The editor host's checks without VS Code: label file conventions, message validation, backups. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeDelta, encodeLabelRuns, type LabelDelta } from '../../src/core/editDeltas';
import {
  checkClasses,
  classesUpTo,
  defaultClassColor,
  defaultClasses,
  isLabelOrPredictionFile,
  labelFileNames,
  makeLabelsFile,
  parseLabelsFile,
  segmentsOfClasses,
  serializeLabelsFile,
  volumeBaseName,
} from '../../src/core/labels';
import { readVolumeFile } from '../../src/core/readVolume';
import { LabelLayer, type LayerChange } from '../../src/extension/volumeEditor/labelLayer';
import { validateWebviewMessage } from '../../src/extension/volumeEditor/messageValidation';
import { gridMismatch } from '../../src/core/volumeFiles';
import { decodeBackup, encodeBackup, labelArrayOf } from '../../src/extension/volumeEditor/labelVolumes';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

test('label files are named after the volume without its extension', () => {
  for (const [file, base] of [
    ['t2.nii.gz', 't2'],
    ['/data/sub-01/T1W.NII.GZ', 'T1W'],
    ['CTChest4.nrrd', 'CTChest4'],
    ['C:\\scans\\brain.nhdr', 'brain'],
    ['plain.nii', 'plain'],
    ['odd.name.v2.nii.gz', 'odd.name.v2'],
  ]) {
    assert.equal(volumeBaseName(file), base, file);
  }
  assert.deepEqual(labelFileNames('semi/t2.nii.gz'), {
    labelMap: 't2.labels.nii.gz',
    classes: 't2.labels.json',
    segNrrd: 't2.labels.seg.nrrd',
    prediction: 't2.seg.nii.gz',
  });
  assert.ok(isLabelOrPredictionFile('t2.labels.nii.gz') && isLabelOrPredictionFile('t2.seg.nii.gz') && !isLabelOrPredictionFile('t2.nii.gz'));
});

test('the labels file round-trips, and bad ones are refused with the reason', () => {
  const classes = [...defaultClasses(), { value: 3, name: 'lesion', color: '#00FF00' }];
  const text = serializeLabelsFile(makeLabelsFile('/x/t2.nii.gz', classes));
  const parsed = parseLabelsFile(text);
  assert.equal(parsed.volume, 't2.nii.gz');
  assert.equal(parsed.labelMap, 't2.labels.nii.gz');
  assert.deepEqual(parsed.classes.map((c) => [c.value, c.name, c.color]), [[1, 'background', '#3b6fb6'], [2, 'foreground', '#e6194b'], [3, 'lesion', '#00ff00']]);
  for (const [bad, reason] of [
    ['{', /not JSON/],
    ['[]', /"format"/],
    ['{"format":"unet3d-labels","version":2,"classes":[]}', /version/],
    ['{"format":"unet3d-labels","version":1,"classes":[]}', /at least one class/],
    ['{"format":"unet3d-labels","version":1,"classes":[{"value":2,"name":"a","color":"#000000"}]}', /values must run 1..1/],
    ['{"format":"unet3d-labels","version":1,"classes":[{"value":1,"name":"a","color":"red"}]}', /not #rrggbb/],
    ['{"format":"unet3d-labels","version":1,"classes":[{"value":1,"name":"  ","color":"#000000"}]}', /no name/],
  ] as const) {
    assert.throws(() => parseLabelsFile(bad), reason, bad);
  }
  assert.equal(checkClasses(classesUpTo(classes, 5)), undefined);
  assert.equal(classesUpTo(classes, 5)[2].name, 'lesion');
  assert.deepEqual(segmentsOfClasses(classes)[2].color, [0, 1, 0]);
});

test('messages from the webview are checked before anything is applied', () => {
  const delta = encodeDelta({ frame: { kind: 'slice', axis: 2, index: 3 }, runs: Uint32Array.from([0, 4, 0, 2]) });
  const good = [
    { id: 1, body: { type: 'ready' } },
    { id: 2, body: { type: 'edit', label: 'Brush', delta } },
    { id: 3, body: { type: 'edit', label: 'Fill slice', delta: new Uint8Array(delta) } },
    { id: 4, body: { type: 'classEdit', edit: { action: 'add' } } },
    { id: 5, body: { type: 'classEdit', edit: { action: 'rename', value: 2, name: 'cord' } } },
    { id: 6, body: { type: 'classEdit', edit: { action: 'recolor', value: 1, color: '#123abc' } } },
    { id: 7, body: { type: 'classEdit', edit: { action: 'remove', value: 2 } } },
    { id: 8, body: { type: 'loaded', firstPlanesMs: 300, wholeVolumeMs: 4000, transport: 'fetch', voxelBytes: 268435456 } },
    { id: 9, body: { type: 'log', level: 'warning', message: 'x'.repeat(5000) } },
    { id: 10, body: { type: 'ready', resume: { fileName: 't2.nii.gz', crosshair: [3, 4, 5] } } },
    { id: 11, body: { type: 'voxelsFailed', reason: 'HTTP 404' } },
  ];
  for (const m of good) assert.ok(validateWebviewMessage(m, 2).ok, JSON.stringify(m).slice(0, 80));
  const edit = validateWebviewMessage(good[1], 2);
  const checkedEdit = edit.ok ? edit.envelope.body : undefined;
  assert.ok(checkedEdit?.type === 'edit' && checkedEdit.delta.frame.kind === 'slice' && checkedEdit.delta.frame.index === 3);
  const bad: [unknown, RegExp][] = [
    [null, /envelope/],
    [{ body: { type: 'ready' } }, /envelope/],
    [{ id: 0, body: { type: 'ready' } }, /envelope/],
    [{ id: 1, body: 'ready' }, /envelope/],
    [{ id: 1, body: { type: 'format-disk' } }, /unknown message type/],
    [{ id: 1, body: { type: 'edit', label: 'Brush' } }, /without delta/],
    [{ id: 1, body: { type: 'edit', label: 'Paint it all', delta } }, /edit label/],
    [{ id: 1, body: { type: 'edit', label: 'Brush', delta: new ArrayBuffer(12) } }, /bad delta/],
    [{ id: 1, body: { type: 'edit', label: 'Brush', delta: [1, 2, 3] } }, /without delta/],
    [{ id: 1, body: { type: 'classEdit', edit: { action: 'rename', value: 3, name: 'x' } } }, /does not exist/],
    [{ id: 1, body: { type: 'classEdit', edit: { action: 'rename', value: 1, name: ' \n ' } } }, /empty/],
    [{ id: 1, body: { type: 'classEdit', edit: { action: 'recolor', value: 1, color: 'javascript:' } } }, /#rrggbb/],
    [{ id: 1, body: { type: 'classEdit', edit: { action: 'remove', value: 1.5 } } }, /does not exist/],
    [{ id: 1, body: { type: 'classEdit', edit: { action: 'explode' } } }, /unknown/],
    [{ id: 1, body: { type: 'log', level: 'fatal', message: 'x' } }, /level/],
    [{ id: 1, body: { type: 'loaded', firstPlanesMs: -1, wholeVolumeMs: 3, transport: 'fetch', voxelBytes: 1 } }, /timings/],
    [{ id: 1, body: { type: 'loaded', firstPlanesMs: 1, wholeVolumeMs: 3, transport: 'pigeon', voxelBytes: 1 } }, /transport/],
    [{ id: 1, body: { type: 'ready', resume: { fileName: 't2.nii.gz', crosshair: [3, -4, 5] } } }, /resume/],
    [{ id: 1, body: { type: 'voxelsFailed' } }, /reason/],
  ];
  for (const [m, reason] of bad) {
    const result = validateWebviewMessage(m, 2);
    assert.ok(!result.ok, JSON.stringify(m));
    assert.match(result.reason, reason);
  }
  assert.match((validateWebviewMessage({ id: 1, body: { type: 'classEdit', edit: { action: 'remove', value: 1 } } }, 1) as { reason: string }).reason, /last class/);
});

test('a checked message holds only the fields its type defines, an edit its decoded delta; the raw message is left as it came', () => {
  const delta = encodeDelta({ frame: { kind: 'volume' }, runs: Uint32Array.from([7, 3, 0, 2]) });
  const edit = validateWebviewMessage({ id: 4, body: { type: 'edit', label: 'Fill', delta, extra: 'dropped' } }, 2);
  assert.ok(edit.ok);
  assert.deepEqual(edit.envelope, { id: 4, body: { type: 'edit', label: 'Fill', delta: { frame: { kind: 'volume' }, runs: Uint32Array.from([7, 3, 0, 2]) } } });
  const raw = { id: 5, replyTo: 2, body: { type: 'log', level: 'info', message: 'y'.repeat(3000) } };
  const log = validateWebviewMessage(raw, 2);
  assert.ok(log.ok && log.envelope.replyTo === 2 && log.envelope.body.type === 'log');
  assert.equal(log.envelope.body.message, 'y'.repeat(2000) + '…');
  assert.equal(raw.body.message.length, 3000);
  const loaded = validateWebviewMessage({ id: 6, body: { type: 'loaded', firstPlanesMs: 5, wholeVolumeMs: 9, transport: 'chunks', voxelBytes: 8, script: '…' } }, 2);
  assert.ok(loaded.ok);
  assert.deepEqual(loaded.envelope.body, { type: 'loaded', firstPlanesMs: 5, wholeVolumeMs: 9, transport: 'chunks', voxelBytes: 8 });
});

test('a backup restores labels and classes exactly; one for another grid is refused', { skip: SKIP_WITHOUT_DATA }, async () => {
  const volume = readVolumeFile(dataPath('semi', 'spinalcord', 't2.nii.gz'));
  const { labels } = labelArrayOf(readVolumeFile(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz')), 'seg');
  labels[0] = 3;
  const classes = classesUpTo(defaultClasses(), 3);
  const restored = await decodeBackup(encodeBackup(volume, 't2.nii.gz', labels, classes), volume);
  assert.deepEqual(restored.labels, labels);
  assert.deepEqual(restored.classes, classes);
  const other = readVolumeFile(dataPath('semi', 'spleen', 'sub-spleen2_ct.nii.gz'));
  await assert.rejects(decodeBackup(encodeBackup(volume, 't2.nii.gz', labels, classes), other), /not on the volume's grid/);
  await assert.rejects(decodeBackup(new Uint8Array([1, 2, 3]), volume), /not a 3D U-Net labels backup/);
});

test('a label file is used only on the volume grid, and must hold labels', { skip: SKIP_WITHOUT_DATA }, () => {
  const t2 = readVolumeFile(dataPath('semi', 'spinalcord', 't2.nii.gz'));
  assert.equal(gridMismatch(t2, readVolumeFile(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz')), 'seg'), undefined);
  assert.match(gridMismatch(t2, readVolumeFile(dataPath('semi', 'spleen', 'sub-spleen2_ct_seg-manual.nii.gz')), 'spleen seg') ?? '', /spleen seg is 164×166×26 voxels/);
  assert.throws(() => labelArrayOf(readVolumeFile(dataPath('semi', 'spleen', 'sub-spleen2_ct.nii.gz')), 'the CT'), /the CT does not hold labels/);
});

test('the label layer applies a view edit as one undoable step, and refuses bad ones without changing anything', () => {
  const dims: [number, number, number] = [4, 3, 2];
  const changes: LayerChange[] = [];
  const layer = new LabelLayer(dims, new Uint8Array(24), defaultClasses(), (c) => changes.push(c));
  const view = {};
  // Slice z = 1 (positions in the slice: 12), voxels 1..3 of its first row to class 2.
  const stroke: LabelDelta = { frame: { kind: 'slice', axis: 2, index: 1 }, runs: Uint32Array.from([1, 3, 0, 2]) };
  const made = layer.applyViewEdit(stroke, 'Brush', view);
  assert.ok(made.edit);
  assert.deepEqual([...layer.labels.slice(12, 16)], [0, 2, 2, 2]);
  const last = changes.at(-1);
  assert.ok(last?.kind === 'delta' && last.origin === view, 'the view that made it is named');
  made.edit.undo();
  assert.ok(layer.labels.every((v) => v === 0));
  made.edit.redo();
  assert.equal(layer.labels[13], 2);
  const before = layer.labels.slice();
  const refused: [LabelDelta, RegExp][] = [
    [{ frame: { kind: 'volume' }, runs: Uint32Array.from([0, 1, 0, 1]) }, /one slice/],
    [{ frame: { kind: 'slice', axis: 2, index: 2 }, runs: Uint32Array.from([0, 1, 0, 1]) }, /outside 0..1/],
    [{ frame: { kind: 'slice', axis: 0, index: 0 }, runs: Uint32Array.from([0, 1, 0, 3]) }, /above the highest class 2/],
    [{ frame: { kind: 'slice', axis: 2, index: 1 }, runs: Uint32Array.from([1, 1, 0, 1]) }, /out of date/], // voxel 13 holds 2, not 0
  ];
  for (const [delta, reason] of refused) {
    const outcome = layer.applyViewEdit(delta, 'Brush', view);
    assert.ok(!outcome.edit);
    assert.match(outcome.problem, reason);
  }
  assert.deepEqual(layer.labels, before);
});

test('the label runs a webview is sent: none without reading a map known to be empty; the map itself once anything is applied', () => {
  const dims: [number, number, number] = [4, 3, 2];
  // A map said to be empty is not read: one that is not (a caller's mistake) shows it.
  const mislabeled = new Uint8Array(24);
  mislabeled[5] = 2;
  assert.equal(new LabelLayer(dims, mislabeled, defaultClasses(), () => undefined, true).runs().length, 0);
  assert.deepEqual([...new LabelLayer(dims, mislabeled, defaultClasses(), () => undefined).runs()], [5, 1, 2]);
  for (const change of ['edit', 'undo', 'replace', 'remove class'] as const) {
    const layer = new LabelLayer(dims, new Uint8Array(24), defaultClasses(), () => undefined, true);
    const made = layer.applyViewEdit({ frame: { kind: 'slice', axis: 2, index: 1 }, runs: Uint32Array.from([1, 3, 0, 2]) }, 'Brush', {});
    assert.ok(made.edit);
    if (change === 'undo') {
      made.edit.undo();
      made.edit.redo();
    } else if (change === 'replace') {
      const other = new Uint8Array(24);
      other[0] = 1;
      layer.replace(other, defaultClasses());
    } else if (change === 'remove class') {
      layer.editClasses({ action: 'remove', value: 1 });
    }
    assert.deepEqual([...layer.runs()], [...encodeLabelRuns(layer.labels)], change);
    assert.ok(layer.runs().length > 0, change);
  }
});

test('class edits: add, rename, recolor, and remove with its voxels, each undoable', () => {
  const labels = Uint8Array.from([0, 1, 2, 3, 3, 2, 1, 0]);
  const layer = new LabelLayer([8, 1, 1], labels, classesUpTo(defaultClasses(), 3), () => undefined);
  const added = layer.editClasses({ action: 'add' }).edit!;
  assert.deepEqual(layer.classes.at(-1), { value: 4, name: 'class 4', color: defaultClassColor(4) });
  added.undo();
  assert.equal(layer.classes.length, 3);
  layer.editClasses({ action: 'rename', value: 2, name: '  cord\n' });
  layer.editClasses({ action: 'recolor', value: 3, color: '#ABCDEF' });
  assert.deepEqual(layer.classes.map((c) => [c.name, c.color]).slice(1), [['cord', defaultClassColor(2)], ['class 3', '#abcdef']]);
  const removed = layer.editClasses({ action: 'remove', value: 2 }).edit!;
  assert.deepEqual([...layer.labels], [0, 1, 0, 2, 2, 0, 1, 0]);
  assert.deepEqual(layer.classes.map((c) => [c.value, c.name]), [[1, 'background'], [2, 'class 3']]);
  removed.undo();
  assert.deepEqual([...layer.labels], [0, 1, 2, 3, 3, 2, 1, 0]);
  assert.equal(layer.classes[1].name, 'cord');
  const single = new LabelLayer([1, 1, 1], new Uint8Array(1), defaultClasses().slice(0, 1), () => undefined);
  assert.match(single.editClasses({ action: 'remove', value: 1 }).problem ?? '', /at least one class/);
});

test('the 256th class widens the label map to 16 bits', () => {
  const changes: LayerChange[] = [];
  const layer = new LabelLayer([2, 1, 1], Uint8Array.from([0, 255]), classesUpTo(defaultClasses(), 255), (c) => changes.push(c));
  assert.ok(layer.editClasses({ action: 'add' }).edit);
  assert.ok(layer.labels instanceof Uint16Array);
  assert.deepEqual([...layer.labels], [0, 255]);
  assert.ok(changes.some((c) => c.kind === 'labels'));
});
