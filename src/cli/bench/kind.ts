/** One `unet3d bench KIND` benchmark. */
export interface BenchKind {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}
