/**
 * The round brush on a slice image. Pure (no Node imports): the webview paints with it.
 *
 * The brush is round in millimetres, not in voxels: its diameter is `size` voxels of the finer
 * in-plane spacing, so on a 0.8 × 5 mm coronal slice a size-9 brush spans 9 columns but only
 * 1–2 rows, and it looks round on screen (which shows the true aspect).
 */

/** Pixel offsets (dc, dr) covered by a brush of `size` voxels, as pairs in one array. */
export function brushFootprint(size: number, colSpacing: number, rowSpacing: number): Int32Array {
  if (!(size >= 1)) throw new RangeError(`brush size ${size} is below 1 voxel`);
  if (!(colSpacing > 0) || !(rowSpacing > 0)) throw new RangeError(`spacing ${colSpacing} × ${rowSpacing} mm is not positive`);
  const unit = Math.min(colSpacing, rowSpacing);
  const radiusMm = (size / 2) * unit;
  // A voxel is inside when its centre lies within the radius (a hair of slack for round-off).
  const limit = radiusMm * radiusMm + 1e-9 * unit * unit;
  const reachCol = Math.floor(radiusMm / colSpacing);
  const reachRow = Math.floor(radiusMm / rowSpacing);
  const offsets: number[] = [];
  for (let dr = -reachRow; dr <= reachRow; dr++) {
    for (let dc = -reachCol; dc <= reachCol; dc++) {
      const x = dc * colSpacing;
      const y = dr * rowSpacing;
      if (x * x + y * y <= limit) offsets.push(dc, dr);
    }
  }
  return Int32Array.from(offsets);
}

/**
 * The voxel centres to stamp the brush on for a pointer moving from `from` to `to` (image
 * coordinates in pixels, fractional; pixel c spans [c, c + 1)), so a fast stroke leaves no
 * gaps. The first point is included only when `includeStart`.
 */
export function strokeCenters(from: readonly [number, number], to: readonly [number, number], includeStart: boolean): [number, number][] {
  const [x0, y0] = from;
  const [x1, y1] = to;
  const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0)) * 2));
  const out: [number, number][] = [];
  let last = includeStart ? -1 : Math.floor(x0) + Math.floor(y0) * 1e9;
  for (let s = includeStart ? 0 : 1; s <= steps; s++) {
    const t = s / steps;
    const c = Math.floor(x0 + (x1 - x0) * t);
    const r = Math.floor(y0 + (y1 - y0) * t);
    const key = c + r * 1e9;
    if (key !== last) out.push([c, r]);
    last = key;
  }
  return out;
}

/**
 * Calls `visit(col, row)` for every pixel of a `width` × `height` image under the brush
 * centred on pixel (col, row), skipping pixels outside the image.
 */
export function stampBrush(
  footprint: Int32Array,
  width: number,
  height: number,
  col: number,
  row: number,
  visit: (col: number, row: number) => void,
): void {
  for (let i = 0; i < footprint.length; i += 2) {
    const c = col + footprint[i];
    const r = row + footprint[i + 1];
    if (c >= 0 && r >= 0 && c < width && r < height) visit(c, r);
  }
}
