/**
 * Live preview while training: the network as it is now predicts the three planes the editor
 * shows (only the tiles that cross them, thin across each plane), so the user sees what it has
 * learned without waiting for the end. A preview takes at most PREVIEW_SHARE of the training's
 * time: the scheduler runs one only when the time spent on previews so far, plus the last one's
 * cost, stays within that share of the time trained.
 */
import { annotationField, type AnnotationField } from '../core/annotationField';
import type { LabelArray } from '../core/editDeltas';
import type { Vec3 } from '../core/geometry';
import { sliceAxes, type Axis } from '../core/slices';
import type { PreviewPlane } from '../protocol/training';
import type { PatchGeometry } from '../protocol/training';
import type { ApplyOptions, UNet } from './model';
import type { NormalizedImage } from './normalize';
import { predictSliceTiles } from './validation';

/** The most of the training's time previews may take. */
export const PREVIEW_SHARE = 0.15;
/** At least this long between two previews (s), unless a better checkpoint or a new target asks. */
export const PREVIEW_INTERVAL_SECONDS = 3;
/** Voxels across a plane that a preview tile holds (less than a training patch across a thick axis: cheaper, and enough context for a preview). */
export const PREVIEW_THICKNESS = 16;

/** What a preview predicts from: a training volume's normalized image and, with annotation channels, its training annotations. */
export interface PreviewSource {
  image: NormalizedImage;
  annotation?: AnnotationField;
}

/**
 * Predicts the planes through `voxel` along each axis with `net` (inference mode). Each plane's
 * labels are label values 1..classes, its columns along the lower in-plane axis (as core/slices
 * cuts a slice). `adjustment` is subtracted from the logits per class and `options` decide, as
 * prediction does (a warm run previews with its parent's annotation offsets: at first, what the
 * parent's segmentation showed).
 */
export async function predictPlanes(net: UNet, source: PreviewSource, voxel: Vec3, geometry: PatchGeometry, adjustment: readonly number[], options: ApplyOptions = {}): Promise<PreviewPlane[]> {
  const dims = source.image.dims;
  const multiple = net.config.padding === 'same' ? 2 ** (net.config.levels - 1) : 1;
  const shift = adjustment.some((a) => a !== 0) ? [...adjustment] : undefined;
  const maxTileVoxels = 4 * geometry.input[0] * geometry.input[1] * geometry.input[2];
  const planes: PreviewPlane[] = [];
  for (const axis of [0, 1, 2] as Axis[]) {
    const index = Math.min(dims[axis] - 1, Math.max(0, Math.round(voxel[axis])));
    const [u, v] = sliceAxes(axis);
    const width = dims[u];
    const height = dims[v];
    const output = [...geometry.output] as Vec3;
    output[axis] = Math.min(output[axis], Math.ceil(PREVIEW_THICKNESS / multiple) * multiple);
    const labels: LabelArray = net.config.classes > 255 ? new Uint16Array(width * height) : new Uint8Array(width * height);
    await predictSliceTiles(net, source, { axis, index }, { input: geometry.input, output }, [shift], maxTileVoxels, ([decided], start, size) => {
      const lo = [0, 1, 2].map((a) => Math.max(0, start[a]));
      const hi = [0, 1, 2].map((a) => Math.min(dims[a], start[a] + size[a]));
      lo[axis] = index;
      hi[axis] = index + 1;
      const p = [0, 0, 0];
      for (p[2] = lo[2]; p[2] < hi[2]; p[2]++) {
        for (p[1] = lo[1]; p[1] < hi[1]; p[1]++) {
          for (p[0] = lo[0]; p[0] < hi[0]; p[0]++) {
            const o = p[0] - start[0] + size[0] * (p[1] - start[1] + size[1] * (p[2] - start[2]));
            labels[p[u] + width * p[v]] = decided[o] + 1;
          }
        }
      }
    }, options);
    planes.push({ axis, index, width, height, labels });
  }
  return planes;
}

/** Where a preview is wanted: a training volume (by index) and the voxel whose three planes to show. */
export interface PreviewTarget {
  volume: number;
  voxel: Vec3;
}

/**
 * When to preview: within PREVIEW_SHARE of the time trained, at most every
 * PREVIEW_INTERVAL_SECONDS unless asked sooner (a new best checkpoint, a moved crosshair).
 */
export class PreviewSchedule {
  private spent = 0;
  /** The dearer of the last two previews: one that takes longer than the last does not break the share. */
  private lastCost: number | undefined;
  private previousCost: number | undefined;
  private lastAt = -Infinity;

  constructor(private readonly share = PREVIEW_SHARE, private readonly interval = PREVIEW_INTERVAL_SECONDS) {}

  /** Seconds spent on previews so far. */
  get seconds(): number {
    return this.spent;
  }

  /**
   * Whether to preview now, `trained` seconds into training; `urgent` for a new best or a new
   * target. `firstCost` guesses the cost of the first preview, before one was timed (about a
   * training step: a few tiles forward, against a patch forward and backward).
   */
  due(now: number, trained: number, urgent: boolean, firstCost = 0.5): boolean {
    const cost = this.lastCost === undefined ? firstCost : Math.max(this.lastCost, this.previousCost ?? 0);
    if (this.spent + cost > this.share * (trained + this.spent + cost)) return false;
    return urgent || now - this.lastAt >= this.interval;
  }

  /** Records a preview that took `seconds`, ending at `now`. */
  done(now: number, seconds: number): void {
    this.spent += seconds;
    this.previousCost = this.lastCost;
    this.lastCost = seconds;
    this.lastAt = now;
  }
}

/** The annotation field a preview of a training volume reads (its training slices'), built once. */
export function previewAnnotation(labels: LabelArray, image: NormalizedImage, classes: number): AnnotationField {
  return annotationField(labels, image.dims, image.spacing, classes);
}
