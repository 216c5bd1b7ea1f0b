/**
 * The host's authoritative label layer: the label map and the class list, the edits made to
 * them, and their undo and redo. No VS Code here (the document wraps it), so every rule is
 * unit-tested: a view's edit changes one slice, lies inside the volume, uses existing classes
 * and finds the labels it expects; otherwise it is refused and nothing changes.
 */
import {
  applyDelta,
  checkDelta,
  deltaMatches,
  encodeLabelRuns,
  labelsForClasses,
  removeClassDelta,
  type DeltaDirection,
  type LabelArray,
  type LabelDelta,
} from '../../core/editDeltas';
import type { Vec3 } from '../../core/geometry';
import { checkClasses, cleanClassName, defaultClassColor, MAX_CLASS_VALUE, type LabelClass } from '../../core/labels';
import type { ClassEdit } from '../../protocol/webview';

/** What changed, for the views. */
export type LayerChange =
  /** A label delta was applied; `origin` is the view that made it (it has it already). */
  | { kind: 'delta'; delta: LabelDelta; direction: DeltaDirection; origin?: object }
  /** The whole label map was replaced (revert, or widened to 16 bits). */
  | { kind: 'labels'; reason: 'revert' | 'resync' }
  | { kind: 'classes' };

/** One entry of the undo stack. */
export interface LayerEdit {
  label: string;
  undo(): void;
  redo(): void;
}

/** An edit made, or why it was refused. */
export type EditOutcome = { edit: LayerEdit; problem?: undefined } | { edit?: undefined; problem: string };

export class LabelLayer {
  private labelArray: LabelArray;
  /**
   * False while the map is known to hold no label (opened with none, nothing applied since): its
   * runs are then known without reading it. Scanning an empty 512³ map took 0.55 s of the
   * extension host's thread as a volume opened, holding up every message to the webview.
   */
  private mayHoldLabels: boolean;

  /** `labels` is widened to 16 bits where the classes need it (more than 255); `empty`: the caller knows it holds only zeros. */
  constructor(
    readonly dims: Vec3,
    labels: LabelArray,
    private classList: LabelClass[],
    private readonly notify: (change: LayerChange) => void,
    empty = false,
  ) {
    this.labelArray = labelsForClasses(labels, classList.length);
    this.mayHoldLabels = !empty;
  }

  get labels(): LabelArray {
    return this.labelArray;
  }

  /** The labels as runs (`encodeLabelRuns`), without reading the map while it is known to be empty. */
  runs(): Uint32Array {
    return this.mayHoldLabels ? encodeLabelRuns(this.labelArray) : new Uint32Array(0);
  }

  get classes(): readonly LabelClass[] {
    return this.classList;
  }

  /** Replaces labels and classes (revert); the undo stack's deltas still apply afterwards, value by value. */
  replace(labels: LabelArray, classes: LabelClass[]): void {
    this.labelArray = labelsForClasses(labels, classes.length);
    this.mayHoldLabels = true;
    this.classList = classes;
    this.notify({ kind: 'labels', reason: 'revert' });
    this.notify({ kind: 'classes' });
  }

  /** Applies a delta that a view has already applied to its copy. */
  applyViewEdit(delta: LabelDelta, label: string, origin: object): EditOutcome {
    // Every tool of the view works on one slice; only the host changes the whole volume (removing a class).
    if (delta.frame.kind !== 'slice') return { problem: 'an edit from the view must change one slice' };
    const problem = checkDelta(delta, this.dims, this.classList.length);
    if (problem) return { problem };
    if (!deltaMatches(this.labelArray, this.dims, delta, 'forward')) {
      return { problem: "the edit's before-values do not match the document's labels (the view was out of date)" };
    }
    applyDelta(this.labelArray, this.dims, delta, 'forward');
    this.mayHoldLabels = true;
    this.notify({ kind: 'delta', delta, direction: 'forward', origin });
    return {
      edit: {
        label,
        undo: () => this.replay(delta, 'backward'),
        redo: () => this.replay(delta, 'forward'),
      },
    };
  }

  private replay(delta: LabelDelta, direction: DeltaDirection): void {
    applyDelta(this.labelArray, this.dims, delta, direction);
    this.mayHoldLabels = true;
    this.notify({ kind: 'delta', delta, direction });
  }

  /** Changes the class list (checked by the message validation) as one undoable edit. */
  editClasses(edit: ClassEdit): EditOutcome {
    const before = this.classList.map((c) => ({ ...c }));
    let after: LabelClass[];
    let delta: LabelDelta | undefined;
    let label: string;
    switch (edit.action) {
      case 'add': {
        const value = before.length + 1;
        if (value > MAX_CLASS_VALUE) return { problem: `at most ${MAX_CLASS_VALUE} classes` };
        if (value > 255 && this.labelArray instanceof Uint8Array) {
          // A uint8 map cannot hold class 256: widen it once (not undone; it holds the same values).
          this.labelArray = Uint16Array.from(this.labelArray);
          this.notify({ kind: 'labels', reason: 'resync' });
        }
        after = [...before, { value, name: `class ${value}`, color: defaultClassColor(value) }];
        label = 'Add class';
        break;
      }
      case 'rename':
        after = before.map((c) => (c.value === edit.value ? { ...c, name: cleanClassName(edit.name) } : c));
        label = 'Rename class';
        break;
      case 'recolor':
        after = before.map((c) => (c.value === edit.value ? { ...c, color: edit.color.toLowerCase() } : c));
        label = 'Recolor class';
        break;
      case 'remove':
        after = before.filter((c) => c.value !== edit.value).map((c) => (c.value > edit.value ? { ...c, value: c.value - 1 } : c));
        delta = removeClassDelta(this.labelArray, edit.value);
        label = 'Remove class';
        break;
    }
    const problem = checkClasses(after);
    if (problem) return { problem };
    const apply = (classes: LabelClass[], direction: DeltaDirection) => {
      if (delta) {
        applyDelta(this.labelArray, this.dims, delta, direction);
        this.mayHoldLabels = true;
        this.notify({ kind: 'delta', delta, direction });
      }
      this.classList = classes.map((c) => ({ ...c }));
      this.notify({ kind: 'classes' });
    };
    apply(after, 'forward');
    return { edit: { label, undo: () => apply(before, 'backward'), redo: () => apply(after, 'forward') } };
  }
}
