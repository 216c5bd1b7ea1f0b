/**
 * Reads of a file that may be asked for twice at once (the command that wrote it and the watcher
 * that saw it): one read per key (file and stamp) at a time, and a read that a later one overtook
 * is dropped, so the file is taken once and an older version never replaces a newer one.
 */
export class LatestRead<T> {
  private current: { key: string; done: Promise<T | undefined> } | undefined;
  private taken: string | undefined;

  /**
   * `read` for `key`, unless that key is taken already or being read. Resolves with what was read,
   * or undefined when there is nothing new to take: taken before, read by a call beside this one,
   * or overtaken by a read of another key started meanwhile.
   */
  async take(key: string, read: () => Promise<T>): Promise<T | undefined> {
    if (this.taken === key) return undefined;
    if (this.current?.key === key) {
      await this.current.done;
      return undefined;
    }
    const entry: { key: string; done: Promise<T | undefined> } = { key, done: read().then((value) => (this.current === entry ? value : undefined)) };
    this.current = entry;
    try {
      const value = await entry.done;
      if (value !== undefined) this.taken = key;
      return value;
    } finally {
      if (this.current === entry) this.current = undefined;
    }
  }

  /** Forgets what was taken (the file was removed): the next read of any key is taken again. */
  forget(): void {
    this.taken = undefined;
  }
}
