/**
 * The host's messages to the editor, handled one after another: a voxel chunk takes a moment to
 * inflate, and what follows it (the labels, a delta) must wait for it. An error in one is shown
 * and logged on the host; the next is handled still.
 */
import type { Vec3 } from '../src/core/geometry';
import { decodeDelta } from '../src/core/editDeltas';
import type { EditorCommand, EditorSettings, ToWebviewMessage } from '../src/protocol/webview';
import type { DocumentStore } from './store';
import type { VoxelLoader } from './voxelLoading';

/** What the messages need from the editor around them. */
export interface HostMessageTarget {
  readonly store: DocumentStore;
  /** Where the voxels go as they arrive (the first planes, the host's chunks). */
  readonly loader: VoxelLoader;
  /** Shows a line in the status bar. */
  showMessage(text: string, level?: 'info' | 'warning' | 'error'): void;
  /** Sends a line to the host's log. */
  logError(message: string): void;
  /** The labels arrived with the document: the editor can draw. */
  labelsOpened(): void;
  /** The class list changed (it is in the store). */
  classesChanged(): void;
  /** The prediction changed (it is in the store). */
  predictionChanged(): void;
  applySettings(settings: EditorSettings): void;
  runCommand(command: EditorCommand): void;
  setCrosshair(voxel: Vec3): void;
}

export class HostMessages {
  /** Messages are handled one after another (inflating a voxel chunk takes a moment; what follows waits). */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly target: HostMessageTarget) {}

  handle(message: ToWebviewMessage): void {
    this.queue = this.queue
      .then(() => this.handleNow(message))
      .catch((error: unknown) => {
        const text = error instanceof Error ? error.message : String(error);
        this.target.showMessage(`Error: ${text}`, 'error');
        this.target.logError(`${message.type}: ${error instanceof Error ? error.stack ?? text : text}`);
      });
  }

  private async handleNow(message: ToWebviewMessage): Promise<void> {
    const { target } = this;
    const { store } = target;
    switch (message.type) {
      case 'plane':
        target.loader.receivePlane(message);
        break;
      case 'planesSent':
        target.loader.planesSent(message.rawCopy);
        break;
      case 'volumeChunk':
        await target.loader.receiveChunk(message);
        break;
      case 'labels':
        store.setLabels(new Uint32Array(message.runs), message.labelType);
        if (message.reason === 'open') target.labelsOpened();
        if (message.reason === 'revert') target.showMessage('Labels reverted to the saved files.');
        break;
      case 'delta':
        store.applyDelta(decodeDelta(message.delta), message.direction);
        break;
      case 'classes':
        store.setClasses(message.classes);
        target.classesChanged();
        break;
      case 'prediction':
        store.setPrediction(message.name, message.runs ? new Uint32Array(message.runs) : null, message.maxValue);
        if (message.name) target.showMessage(`Prediction ${message.name} shown.`);
        target.predictionChanged();
        break;
      case 'trainingPreview':
        store.setTrainingPreview(message.preview);
        if (message.preview) target.showMessage(`Training ${message.preview.run}: preview at iteration ${message.preview.iteration} (outlines: the network as it is now; it follows the crosshair).`);
        target.predictionChanged();
        break;
      case 'settings':
        target.applySettings(message.settings);
        break;
      case 'command':
        target.runCommand(message.command);
        break;
      case 'notice':
        target.showMessage(message.message, message.level);
        break;
      case 'reveal':
        target.setCrosshair(message.voxel);
        if (message.message) target.showMessage(message.message);
        break;
      case 'editResult':
      case 'init':
        break; // replies are routed to their requests; init is handled by main
    }
  }
}
