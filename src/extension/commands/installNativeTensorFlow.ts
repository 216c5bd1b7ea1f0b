/**
 * Native TensorFlow for the engine, outside the extension's folder (which every update replaces):
 *  - "3D U-Net: Install Native TensorFlow" (`unet3d.installNativeTensorFlow`) installs
 *    @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu with the user's npm into the extension's
 *    global storage (NATIVE_INSTALL_FOLDER), with a cancellable progress notification and npm's
 *    output in the log, then asks a worker whether it loads;
 *  - the setting `unet3d.nativeTensorFlowPath` names an existing install instead (a folder holding
 *    node_modules/@tensorflow/tfjs-node[-gpu]);
 *  - nativeTensorFlowFolders tells each worker where to look (WorkerStartOptions), the setting first.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { NATIVE_PACKAGES, TFJS_VERSION, type BackendStatus } from '../../protocol/backends';
import { findNpm, prepareInstallFolder, runNpmInstall } from '../npmInstall';
import { showCommandError } from '../notices';
import type { LoopContext } from './loopContext';

/** The folder of the extension's global storage that the command installs into. */
export const NATIVE_INSTALL_FOLDER = 'native-tensorflow';

/** The two native packages and what the user needs to know to choose. */
const VARIANTS = {
  cpu: {
    pkg: NATIVE_PACKAGES.tensorflow,
    backend: 'tensorflow',
    label: 'TensorFlow on the CPU',
    detail: "TensorFlow's C++ kernels on the CPU: Linux (x64, arm64), macOS and Windows x64. The install downloads libtensorflow (about 100–300 MB).",
  },
  gpu: {
    pkg: NATIVE_PACKAGES['tensorflow-gpu'],
    backend: 'tensorflow-gpu',
    label: 'TensorFlow with CUDA (NVIDIA GPU)',
    detail:
      'An NVIDIA GPU on Linux x64 or Windows x64, with CUDA 11.2 and cuDNN 8.1 installed and on the library path (LD_LIBRARY_PATH on Linux, PATH on Windows); without them it installs but does not load. The install downloads libtensorflow with CUDA (about 400 MB).',
  },
} as const;

type Variant = keyof typeof VARIANTS;

/** Arguments from code: which package (default: asked). */
export interface InstallNativeArgs {
  variant?: Variant;
}

/** What the command did (it resolves with it; undefined when nothing was chosen). */
export interface InstallNativeResult {
  package: string;
  folder: string;
  installed: boolean;
  cancelled?: boolean;
  error?: string;
  /** What a worker reported of the backend after the install. */
  status?: BackendStatus;
}

/** The folder the command installs into. */
export function nativeInstallFolder(context: vscode.ExtensionContext): string {
  return path.join(context.globalStorageUri.fsPath, NATIVE_INSTALL_FOLDER);
}

/** The setting `unet3d.nativeTensorFlowPath` as a path: `~` expanded, relative to the home folder; undefined when unset. */
export function nativeTensorFlowPathSetting(): string | undefined {
  const value = vscode.workspace.getConfiguration('unet3d').get<unknown>('nativeTensorFlowPath');
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const text = value.trim();
  const expanded = text === '~' || text.startsWith('~/') || text.startsWith('~\\') ? path.join(os.homedir(), text.slice(1)) : text;
  return path.resolve(os.homedir(), expanded);
}

/** Where workers look for a native TensorFlow, in order: the setting's folder, then the command's install. */
export function nativeTensorFlowFolders(context: vscode.ExtensionContext): string[] {
  const fromSetting = nativeTensorFlowPathSetting();
  return [...(fromSetting ? [fromSetting] : []), nativeInstallFolder(context)];
}

function installedVersion(folder: string, pkg: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(folder, 'node_modules', ...pkg.split('/'), 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

async function pickVariant(folder: string): Promise<Variant | undefined> {
  const variants = (Object.keys(VARIANTS) as Variant[]).filter((v) => v !== 'gpu' || process.platform !== 'darwin');
  const items = variants.map((variant) => {
    const v = VARIANTS[variant];
    const version = installedVersion(folder, v.pkg);
    return { variant, label: v.label, description: `${v.pkg}@${TFJS_VERSION}${version ? ` · ${version} installed` : ''}`, detail: v.detail };
  });
  const picked = await vscode.window.showQuickPick(items, {
    title: '3D U-Net: Install Native TensorFlow — which one?',
    placeHolder: process.platform === 'darwin' ? 'TensorFlow with CUDA has no build for macOS' : 'TensorFlow with CUDA needs an NVIDIA GPU with CUDA 11.2 and cuDNN 8.1',
    ignoreFocusOut: true,
  });
  return picked?.variant;
}

export async function installNativeTensorFlowCommand(ctx: LoopContext, context: vscode.ExtensionContext, arg?: unknown): Promise<InstallNativeResult | undefined> {
  const folder = nativeInstallFolder(context);
  const asked = typeof arg === 'object' && arg !== null ? (arg as InstallNativeArgs).variant : undefined;
  const variant = asked && asked in VARIANTS ? asked : await pickVariant(folder);
  if (!variant) return undefined;
  const { pkg, backend, label } = VARIANTS[variant];
  const spec = `${pkg}@${TFJS_VERSION}`;
  const result: InstallNativeResult = { package: pkg, folder, installed: false };

  const npm = findNpm(process.env);
  if (!npm) {
    result.error =
      `npm was not found on the PATH that VS Code sees. Install Node.js (https://nodejs.org, it brings npm) and restart VS Code; ` +
      `or install by hand in a terminal: \`npm install ${spec}\` in a folder of your choice, then set unet3d.nativeTensorFlowPath to that folder`;
    ctx.log.error(`install native TensorFlow: ${result.error}`);
    void showCommandError('install native TensorFlow', result.error, ctx.log);
    return result;
  }
  try {
    prepareInstallFolder(folder, 'Native TensorFlow for the 3D U-Net extension, installed by "3D U-Net: Install Native TensorFlow"', [VARIANTS.cpu.pkg, VARIANTS.gpu.pkg]);
  } catch (error) {
    result.error = `the folder ${folder} could not be prepared: ${(error as Error).message}`;
    void showCommandError('install native TensorFlow', result.error, ctx.log);
    return result;
  }

  ctx.log.info(`install native TensorFlow: ${npm} install ${spec} in ${folder}`);
  const outcome = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `3D U-Net: installing ${spec} with npm`, cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      let shown = 0;
      return runNpmInstall({
        npm,
        folder,
        packages: [spec],
        signal: abort.signal,
        onLine(line) {
          ctx.log.info(`npm: ${line}`);
          // The latest line, at most a few times a second.
          const now = Date.now();
          if (line.trim() && now - shown > 300) {
            shown = now;
            progress.report({ message: line.trim().slice(0, 120) });
          }
        },
      });
    },
  );
  if (!outcome.ok) {
    result.cancelled = outcome.cancelled;
    result.error = outcome.reason;
    ctx.log.warn(`install native TensorFlow: ${outcome.reason}${outcome.fix ? ` (${outcome.fix})` : ''}`);
    if (outcome.cancelled) void vscode.window.showInformationMessage(`3D U-Net: the installation of ${pkg} was cancelled.`);
    else void showCommandError(`install ${pkg}`, `${outcome.reason}${outcome.fix ? `. ${outcome.fix}` : ''}`, ctx.log);
    return result;
  }
  result.installed = true;

  // Does the engine load it? A worker started now looks where every later one will.
  try {
    const report = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `3D U-Net: checking that ${pkg} loads…` }, () =>
      ctx.jobs.run('probe', 'Probing compute backends', (job) => job.client.probe()),
    );
    result.status = report.statuses.find((s) => s.name === backend);
  } catch (error) {
    result.error = `installed, but the engine worker could not be asked whether it loads: ${(error as Error).message}`;
  }
  const status = result.status;
  if (status?.available) {
    const elsewhere = status.location && !status.location.startsWith(folder + path.sep) ? ` (the engine loads the one in ${status.location}, which unet3d.nativeTensorFlowPath names)` : '';
    void vscode.window.showInformationMessage(`3D U-Net: ${label} is installed and loads${elsewhere}. With unet3d.backend "auto" training and segmentation use it from now on.`);
  } else {
    const why = status ? `${status.reason ?? 'it did not load'}${status.fix ? `. Fix: ${status.fix}` : ''}` : result.error ?? 'the engine did not report it';
    ctx.log.warn(`install native TensorFlow: ${pkg} installed in ${folder} but does not load: ${why}`);
    void showCommandError(`use ${pkg}`, `it was installed in ${folder}, but the engine cannot load it: ${why}`, ctx.log);
  }
  return result;
}
