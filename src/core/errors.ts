/**
 * The one error type the readers and writers throw for bad input. `code` lets callers
 * (the CLI, the editor) react to a kind of problem; `message` is one line for the user.
 */
export type VolumeErrorCode =
  | 'unsupported-datatype'
  | 'unsupported-format'
  | 'unsupported-encoding'
  | 'bad-magic'
  | 'bad-header'
  | 'bad-dimensions'
  | 'too-large'
  | 'truncated'
  | 'corrupt-gzip'
  | 'layered-segmentation'
  | 'missing-data-file'
  | 'refused-file'
  | 'grid-mismatch';

export class VolumeError extends Error {
  readonly code: VolumeErrorCode;
  constructor(code: VolumeErrorCode, message: string) {
    super(message);
    this.name = 'VolumeError';
    this.code = code;
  }
}

/** Human-readable byte count, e.g. "8.0 GiB". */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
