/**
 * Baseline: morphological contour interpolation (Zukić et al., Insight Journal 2016; 3D Slicer's
 * "Fill between slices"), from ITK compiled to WebAssembly
 * (`@itk-wasm/morphological-contour-interpolation` 2.0.0).
 *
 * Loading: the package is ESM-only and its Node loader uses a top-level await, so it cannot be
 * bundled into our CommonJS bundles. It is imported at run time from node_modules with a
 * specifier esbuild does not follow; it reads its zstd-compressed .wasm from its own `dist/pipelines`
 * folder with `fs` (no network: it works offline).
 */
import type { Vec3 } from '../../core/geometry';

const PACKAGE = '@itk-wasm/morphological-contour-interpolation';

type ContourInterpolationModule = typeof import('@itk-wasm/morphological-contour-interpolation');

let loaded: Promise<ContourInterpolationModule> | undefined;

/** Loads the package once; a clear error where it is not installed. */
function loadPackage(): Promise<ContourInterpolationModule> {
  // A variable specifier keeps esbuild from bundling the package (see the module comment).
  const specifier: string = PACKAGE;
  loaded ??= (import(specifier) as Promise<ContourInterpolationModule>).catch((error: unknown) => {
    loaded = undefined;
    throw new Error(`morphological contour interpolation needs the npm package ${PACKAGE} (${(error as Error).message})`);
  });
  return loaded;
}

/** Options of the interpolation. */
export interface ContourInterpolationOptions {
  /** Interpolate along this array axis only; all axes by default (ITK's −1). */
  axis?: 0 | 1 | 2;
}

/**
 * Dense labels from sparse ones (editor convention: 0 unlabeled, 1 background, 2.. classes).
 * Each foreground class is interpolated on its own, as a binary image, between the annotated
 * slices (along every axis by default); where two classes' interpolations claim a voxel the lower
 * label wins; a voxel no class reaches is background; annotated voxels keep their label.
 * (Interpolating all classes in one multi-label run was worse on a many-class case: docs/quality.md.)
 */
export async function contourInterpolationLabels(
  sparse: Uint8Array | Uint16Array,
  dims: Vec3,
  spacing: Vec3,
  options: ContourInterpolationOptions = {},
): Promise<Uint8Array | Uint16Array> {
  const count = dims[0] * dims[1] * dims[2];
  if (sparse.length !== count) throw new RangeError(`labels have ${sparse.length} voxels, dims ${dims.join('×')} need ${count}`);
  const { morphologicalContourInterpolationNode } = await loadPackage();
  const present = new Set<number>();
  for (let i = 0; i < count; i++) if (sparse[i] >= 2) present.add(sparse[i]);
  const out = sparse instanceof Uint16Array ? new Uint16Array(count) : new Uint8Array(count);
  const binary = new Uint8Array(count);
  for (const label of [...present].sort((a, b) => a - b)) {
    for (let i = 0; i < count; i++) binary[i] = sparse[i] === label ? 1 : 0;
    const image = {
      imageType: { dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
      name: `label ${label}`,
      origin: [0, 0, 0],
      spacing: [...spacing],
      direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
      size: [...dims],
      data: binary,
      metadata: new Map(),
    } as unknown as Parameters<typeof morphologicalContourInterpolationNode>[0];
    const { outputImage } = await morphologicalContourInterpolationNode(image, options.axis === undefined ? {} : { axis: options.axis });
    const result = outputImage.data as ArrayLike<number> | null;
    if (!result || result.length !== count) throw new Error(`contour interpolation returned ${result?.length ?? 0} voxels, expected ${count}`);
    for (let i = 0; i < count; i++) if (result[i] !== 0 && out[i] === 0) out[i] = label;
  }
  for (let i = 0; i < count; i++) {
    if (sparse[i] !== 0) out[i] = sparse[i];
    else if (out[i] === 0) out[i] = 1;
  }
  return out;
}
