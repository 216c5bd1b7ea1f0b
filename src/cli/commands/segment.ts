import * as path from 'node:path';
import { activeBackendLabel, isBackendName, type BackendChoice } from '../../protocol/backends';
import { DEFAULT_CONTEXT, DEFAULT_OVERLAP, DEFAULT_TILE, type SegmentOptions, type SegmentResult } from '../../protocol/segment';
import type { WorkerClient } from '../../engine/workerClient';
import { BACKEND_LIST } from '../trainOptions';
import { parseCommandArgs, parseNumber, parseTriple } from '../args';
import { UsageError, type CliCommand } from '../command';

const USAGE = `Usage: unet3d segment --run RUN_DIR --image C.nii.gz [--out C.seg.nii.gz] [--probabilities P.nii.gz] [options]

Segments an image with a trained run, tile by tile, and writes on the image's grid (its affine):
  C.seg.nii.gz   values 0..K−1 (0 = background, as other tools read it), shown by the volume editor
                 as the prediction of C
  C.seg.json     the class names and colours by value, "labelValues": "0-background", the run used
  C.seg.nrrd     for NRRD images: the same values as a 3D Slicer segmentation (a segment per class
                 but background)

  --run RUN_DIR         the run folder written by unet3d train
  --image FILE          the image (.nii, .nii.gz, .nrrd, .nhdr); a 4D image gives one channel per frame
  --out FILE            the label output, .nii.gz or .nii (default: NAME.seg.nii.gz beside the image)
  --labels FILE         the image's sparse labels (0 = unlabeled), for a run trained with annotation
                        channels (default: the label file the run trained this image with)
  --probabilities FILE  also write a 4D uint8 NIfTI: frame c = value c of C.seg.nii.gz (frame 0 =
                        background), probability × 255
  --tile X,Y,Z          output tile size in voxels (default ${DEFAULT_TILE.same} for 'same' networks, ${DEFAULT_TILE.valid} for
                        'valid'); for a 'valid' network every tile size gives the same result
  --overlap F           overlap of blended tiles for 'same' networks, 0 to 0.9 (default ${DEFAULT_OVERLAP})
  --context N           'same' networks: N voxels of mirrored context around each tile, cropped off (default ${DEFAULT_CONTEXT})
  --checkpoint C        best (default) | last
  --backend B           ${BACKEND_LIST} (default auto)
  --json                print what was written as JSON`;

function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - 60 * m)).padStart(2, '0')}s`;
}

export const segment: CliCommand = {
  summary: 'segment an image with a trained run (tiled); writes NAME.seg.nii.gz on its grid',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        run: { type: 'string' },
        image: { type: 'string' },
        out: { type: 'string' },
        labels: { type: 'string' },
        probabilities: { type: 'string' },
        tile: { type: 'string' },
        overlap: { type: 'string' },
        context: { type: 'string' },
        checkpoint: { type: 'string' },
        backend: { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.run) throw new UsageError('--run RUN_DIR is required');
    if (!values.image) throw new UsageError('--image is required');
    const tile = values.tile === undefined ? undefined : parseTriple(values.tile, '--tile');
    const overlap = parseNumber(values.overlap, '--overlap', 0, 0.9);
    const context = parseNumber(values.context, '--context', 0, 256);
    if (context !== undefined && !Number.isInteger(context)) throw new UsageError(`--context must be an integer, not "${values.context}"`);
    const checkpoint = values.checkpoint ?? 'best';
    if (checkpoint !== 'best' && checkpoint !== 'last') throw new UsageError(`--checkpoint must be best or last, not "${checkpoint}"`);
    let backend: BackendChoice = 'auto';
    if (values.backend !== undefined && values.backend !== 'auto') {
      if (!isBackendName(values.backend)) throw new UsageError(`unknown backend "${values.backend}" (${BACKEND_LIST})`);
      backend = values.backend;
    }
    // In the engine's worker process, as the extension segments.
    const { WorkerClient } = await import('../../engine/workerClient');
    const client = await WorkerClient.start();
    try {
      return await segmentInWorker(
        client,
        { runDir: values.run, image: values.image, out: values.out, labels: values.labels, probabilities: values.probabilities, tile, overlap, context, checkpoint, backend },
        values.json === true,
      );
    } finally {
      await client.dispose();
    }
  },
};

/**
 * Segments with `client`'s worker (this command's, or the training's for `unet3d train --segment`),
 * reporting on the terminal, and prints what was written; resolves with the exit code (130:
 * cancelled with Ctrl-C, nothing written).
 */
export async function segmentInWorker(client: WorkerClient, options: SegmentOptions, json: boolean): Promise<number> {
  const { WorkerRequestError } = await import('../../engine/workerClient');
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  let cancelled = false;
  const job = client.segment(
    options,
    (event) => {
      if (event.type === 'segmentStarted') {
        const s = event.info;
        process.stderr.write(
          `backend ${activeBackendLabel(s.backend)}; ${s.checkpoint} checkpoint ${s.modelDir}; ${s.dims.join('×')} voxels in ${s.tiles} tile${s.tiles === 1 ? '' : 's'} of ` +
            `${s.tile.join('×')} (input ${s.inputTile.join('×')}${s.blend ? ', Gaussian-blended' : ''}); normalization ${s.normalization}\n`,
        );
        return;
      }
      const p = event.progress;
      const text = `tile ${p.done}/${p.total}  ${Math.round(p.voxelsPerSecond)} vox/s  ${formatSeconds(p.elapsedSeconds)} eta ${formatSeconds(p.etaSeconds)}`;
      if (tty) process.stderr.write(`\r${text}\x1b[K${p.done === p.total ? '\n' : ''}`);
      else if (Date.now() - lastLine > 2000 || p.done === p.total) {
        process.stderr.write(text + '\n');
        lastLine = Date.now();
      }
    },
  );
  const onInterrupt = () => {
    if (cancelled) process.exit(130);
    cancelled = true;
    process.stderr.write('\nstopping after this tile (Ctrl-C again to quit at once)\n');
    job.cancel();
  };
  process.on('SIGINT', onInterrupt);
  let result: SegmentResult;
  try {
    result = await job.done;
  } catch (error) {
    if (cancelled && error instanceof WorkerRequestError) {
      process.stderr.write('cancelled: nothing written\n');
      return 130;
    }
    throw error;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  if (json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  }
  const counts = result.classes.map((c, i) => `${c.value} ${c.name}: ${result.voxelsPerClass[i]}`).join(', ');
  const lines = [
    `${path.relative(process.cwd(), result.out) || result.out}  (${result.tiles} tiles, ${formatSeconds(result.predictSeconds)}, ${Math.round(result.voxelsPerSecond)} voxels/s on ${result.backend})`,
    `voxels per class  ${counts}`,
    `classes           ${result.classesFile}`,
    ...(result.segNrrd ? [`3D Slicer         ${result.segNrrd}`] : []),
    ...(result.probabilities ? [`probabilities     ${result.probabilities}`] : []),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
