/** Running an in-process CLI command and keeping what it prints. */

/**
 * Runs `body` while collecting the text written to process.stdout. Only strings are taken: the
 * node:test runner sends its own events through stdout as binary chunks, and those pass through.
 */
export async function captureStdout<T>(body: () => Promise<T>): Promise<{ result: T; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (typeof chunk !== 'string') return write(chunk, ...rest);
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    return { result: await body(), out };
  } finally {
    process.stdout.write = write;
  }
}
