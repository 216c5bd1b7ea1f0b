/** Which folders hold volumes (pure: unit-tested without VS Code). */
import * as path from 'node:path';

/** The folders from each volume up to its workspace folder (that one included). */
export function foldersHoldingVolumes(volumes: readonly string[], roots: readonly string[]): string[] {
  const out = new Set<string>();
  for (const volume of volumes) {
    const root = roots.filter((r) => volume.startsWith(r + path.sep)).sort((a, b) => b.length - a.length)[0];
    if (!root) continue;
    for (let dir = path.dirname(volume); ; dir = path.dirname(dir)) {
      out.add(dir);
      if (dir === root || dir === path.dirname(dir)) break;
    }
  }
  return [...out].sort();
}

