/**
 * Debian packages some tests need (a peer program to compare with, e.g. nibabel), installed when
 * missing and this process is root with apt (as on CI), the way the e2e setup installs Chromium.
 * Elsewhere the test says what to install; under CI=true a missing package is a failure.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export function debianPackageInstalled(name: string): boolean {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

/**
 * Makes sure the packages are installed. Returns undefined when they are, else why not (for a
 * test's `skip`); throws under CI=true, where every test must run.
 */
export function ensureDebianPackages(names: readonly string[]): string | undefined {
  const missing = names.filter((n) => !debianPackageInstalled(n));
  if (missing.length === 0) return undefined;
  let reason: string;
  if (process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const lockWait = ['-o', 'DPkg::Lock::Timeout=600'];
    const update = spawnSync('apt-get', [...lockWait, 'update'], { env, encoding: 'utf8' });
    const install = update.status === 0 ? spawnSync('apt-get', [...lockWait, 'install', '-y', ...missing], { env, encoding: 'utf8' }) : update;
    if (install.status === 0 && missing.every(debianPackageInstalled)) return undefined;
    reason = `apt-get could not install ${missing.join(', ')}: ${(install.stderr || install.stdout || '').trim().split('\n').slice(-2).join(' ')}`;
  } else {
    reason = `missing Debian packages: ${missing.join(', ')} (sudo apt-get install -y ${missing.join(' ')})`;
  }
  if (process.env.CI === 'true') throw new Error(reason);
  return reason;
}
