/** Byte-buffer helpers shared by the readers, the editor host and the engine. */

/**
 * A new ArrayBuffer holding exactly the bytes of `view`. `view.buffer` is not that: a Node
 * Buffer under 4 KiB is a view into a shared 8 KiB pool, a subarray is a view into its parent,
 * and `Buffer.prototype.slice` (unlike Uint8Array's) returns a view too, not a copy.
 */
export function exactArrayBuffer(view: ArrayBufferView): ArrayBuffer {
  const out = new Uint8Array(view.byteLength);
  out.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  return out.buffer;
}
