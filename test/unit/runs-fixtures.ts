/** A run record as the engine writes it (src/engine/train.ts), for the Runs view's tests. */
import type { RunRecord } from '../../src/protocol/run';
import { trainSettings } from '../../src/protocol/settings';

export function runRecord(over: Partial<RunRecord> = {}): RunRecord {
  const validation = [
    { iteration: 50, iou: [0.95, 0.61], meanForegroundIoU: 0.61, seconds: 30 },
    { iteration: 100, iou: [0.97, 0.82], meanForegroundIoU: 0.82, seconds: 60 },
  ];
  return {
    schemaVersion: 1,
    status: 'succeeded',
    createdAt: '2026-11-27T10:00:00.000Z',
    updatedAt: '2026-11-27T10:02:05.000Z',
    finishedAt: '2026-11-27T10:02:05.000Z',
    backend: 'wasm',
    // As the engine fills them in (defaults included), so new settings need no change here.
    settings: trainSettings({
      volumes: [{ image: '/ws/semi/spinalcord/t2.nii.gz', labels: '/ws/semi/spinalcord/t2.labels.nii.gz' }],
      outDir: '/ws/.unet3d/runs/run-a',
      iterations: 100,
      augmentation: { deformation: { enabled: true }, rotation: { enabled: false }, scaling: { enabled: false }, grayValue: { enabled: false }, flips: { enabled: false } },
    }),
    network: { levels: 3, baseFilters: 16, filterPattern: 'flat', padding: 'same', batchNorm: true, inChannels: 1, classes: 2 },
    parameters: 394258,
    geometry: { input: [40, 40, 40], output: [40, 40, 40] },
    classes: [
      { value: 1, name: 'background' },
      { value: 2, name: 'spinal cord' },
    ],
    volumes: [],
    loss: [
      { iteration: 1, seconds: 1, loss: 0.9, learningRate: 0.01 },
      { iteration: 50, seconds: 30, loss: 0.4, learningRate: 0.01 },
      { iteration: 100, seconds: 60, loss: 0.2, learningRate: 0.001 },
    ],
    validation,
    checkpoints: { best: { dir: 'best', iteration: 100, meanForegroundIoU: 0.82 }, last: { dir: 'last', iteration: 100 } },
    summary: { status: 'succeeded', stopReason: 'iterations', iterations: 100, seconds: 125, finalLoss: 0.2, best: validation[1], modelDir: '/ws/.unet3d/runs/run-a/best' },
    ...over,
  };
}
