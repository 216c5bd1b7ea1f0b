/** 2D flood fill within one slice. Pure (no Node imports): the webview fills with it. */

/**
 * The pixels 4-connected to (seedCol, seedRow) that hold the seed's value, as positions
 * `col + row·width`, in scanline order of discovery. `values` is a `width` × `height` image,
 * row-major. A scanline fill: memory is one byte per pixel plus a stack of spans.
 */
export function floodFillRegion(values: ArrayLike<number>, width: number, height: number, seedCol: number, seedRow: number): Uint32Array {
  if (!Number.isInteger(seedCol) || !Number.isInteger(seedRow) || seedCol < 0 || seedRow < 0 || seedCol >= width || seedRow >= height) {
    throw new RangeError(`seed (${seedCol}, ${seedRow}) is outside the ${width} × ${height} image`);
  }
  if (values.length !== width * height) throw new RangeError(`image has ${values.length} values, expected ${width * height}`);
  const target = values[seedCol + seedRow * width];
  const seen = new Uint8Array(width * height);
  const region = new Uint32Array(width * height);
  let count = 0;
  const stack: number[] = [seedCol, seedRow];
  while (stack.length) {
    const row = stack.pop()!;
    let col = stack.pop()!;
    const rowStart = row * width;
    if (seen[rowStart + col]) continue;
    // Widen to the whole run of matching pixels on this row.
    let left = col;
    while (left > 0 && !seen[rowStart + left - 1] && values[rowStart + left - 1] === target) left--;
    let right = col;
    while (right + 1 < width && !seen[rowStart + right + 1] && values[rowStart + right + 1] === target) right++;
    for (col = left; col <= right; col++) {
      seen[rowStart + col] = 1;
      region[count++] = rowStart + col;
    }
    // Queue the start of every matching run on the rows above and below.
    for (let next = row - 1; next <= row + 1; next += 2) {
      if (next < 0 || next >= height) continue;
      const nextStart = next * width;
      let inRun = false;
      for (col = left; col <= right; col++) {
        const match = !seen[nextStart + col] && values[nextStart + col] === target;
        if (match && !inRun) stack.push(col, next);
        inRun = match;
      }
    }
  }
  return region.slice(0, count);
}
