/**
 * A name for a volume's file under which a browser workbench's server sends it as it is.
 *
 * code-server (VS Code's server in a browser) serves `/vscode-remote-resource?path=…`, the route
 * the webview fetches large volumes from, with a Content-Type taken from the file's extension:
 * `.nii.gz`, `.nrrd`, `.raw` … are not in its table and go out as `text/plain`, which its
 * compression middleware brotli-compresses on the fly because the browser accepts `br`. For a
 * 161 MiB `.nii.gz` that was 2–3 s of the server's CPU, and the browser then decompresses it
 * again, on the same two cores that inflate the volume (see docs/editor.md). A fetch cannot say
 * `Accept-Encoding: identity` (the browser owns that header), so the webview asks for a symbolic
 * link to the file named `….mp4` instead: `video/mp4` is a type the middleware leaves alone.
 * The link lives in a private temporary folder for as long as the document is open.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The extension whose Content-Type (`video/mp4`) code-server's compression middleware does not compress. */
export const UNCOMPRESSED_SUFFIX = '.mp4';

export interface ServerAlias {
  /** The link's path: the same bytes as the file. */
  readonly path: string;
  /** Removes the link and its folder. */
  dispose(): void;
}

/**
 * Makes a symbolic link to `file` named so that the server sends it uncompressed; undefined
 * where links cannot be made (Windows without the privilege, a read-only temporary folder): the
 * file is then fetched under its own name.
 */
export function makeServerAlias(file: string, tmpRoot = os.tmpdir()): ServerAlias | undefined {
  let dir: string | undefined;
  try {
    dir = fs.mkdtempSync(path.join(tmpRoot, 'unet3d-volume-'));
    const link = path.join(dir, `${path.basename(file)}${UNCOMPRESSED_SUFFIX}`);
    fs.symlinkSync(path.resolve(file), link);
    const made = dir;
    return {
      path: link,
      dispose: () => fs.rmSync(made, { recursive: true, force: true }),
    };
  } catch {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}
