/** The status line: voxel and world coordinates, intensity, label and prediction under the cursor; and messages. */
import type { Vec3 } from '../src/core/geometry';
import type { DocumentStore } from './store';

/** What the status line needs from the editor around it. */
export interface StatusBarHost {
  /** The volume, the labels, the prediction and the classes, read at the voxel under the cursor. */
  readonly store: Pick<DocumentStore, 'info' | 'voxels' | 'labels' | 'prediction' | 'classOf'>;
  /** Voxel (i, j, k) → world RAS+ mm. */
  worldOf(ijk: Vec3): Vec3;
  /** The stored value of voxel `index` (x fastest), wherever it is while the volume loads. */
  voxelValue(index: number): number;
}

export class StatusBar {
  readonly element: HTMLElement;
  private readonly voxel: HTMLSpanElement;
  private readonly message: HTMLSpanElement;

  constructor(private readonly host: StatusBarHost) {
    this.element = document.createElement('footer');
    this.element.className = 'status';
    this.voxel = document.createElement('span');
    this.voxel.className = 'status-voxel';
    this.message = document.createElement('span');
    this.message.className = 'status-message';
    this.element.append(this.voxel, this.message);
  }

  /** Shows what lies at voxel `ijk`. */
  showVoxel(ijk: Vec3): void {
    const { store } = this.host;
    const info = store.info;
    const dims = info.dims;
    const index = ijk[0] + dims[0] * (ijk[1] + dims[1] * ijk[2]);
    const world = this.host.worldOf(ijk);
    const value = this.host.voxelValue(index) * info.sclSlope + info.sclInter;
    const label = store.labels[index];
    const labelText = label === 0 ? 'unlabeled' : `${store.classOf(label)?.name ?? `class ${label}`} (${label})`;
    const parts = [
      `Voxel ${ijk.join(', ')}`,
      `World ${world.map((v) => v.toFixed(1)).join(', ')} mm`,
      `Value ${formatValue(value)}`,
      `Label ${labelText}`,
    ];
    if (store.prediction) {
      const p = store.prediction[index];
      parts.push(`Prediction ${p === 0 ? '–' : `${store.classOf(p)?.name ?? `class ${p}`} (${p})`}`);
    }
    this.voxel.textContent = parts.join('  ·  ');
    this.voxel.title = this.voxel.textContent;
  }

  clearVoxel(): void {
    this.voxel.textContent = '';
    this.voxel.title = '';
  }

  setMessage(text: string, level: 'info' | 'warning' | 'error' = 'info'): void {
    this.message.textContent = text;
    // The whole sentence on hover, should the line be too narrow for it.
    this.message.title = text;
    this.message.dataset.level = level;
  }
}

function formatValue(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 ? v.toFixed(1) : String(+v.toPrecision(5));
}
