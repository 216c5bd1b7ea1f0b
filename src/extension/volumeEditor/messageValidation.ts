/**
 * Checks every message from the webview before the host acts on it: a webview is untrusted
 * input. A message that fails is dropped and logged, never applied. No vscode import, so the
 * checks are unit-tested directly.
 */
import { decodeDelta, type LabelDelta } from '../../core/editDeltas';
import { cleanClassName, isHexColor } from '../../core/labels';
import {
  EDIT_LABELS,
  isEnvelope,
  type ClassEdit,
  type EditLabel,
  type EditMessage,
  type Envelope,
  type FromWebviewMessage,
} from '../../protocol/webview';

/** An edit from the webview, checked, its delta decoded (coordinates are checked by the document). */
export interface CheckedEditMessage {
  type: 'edit';
  label: EditLabel;
  delta: LabelDelta;
}

/**
 * A message from the webview once checked: only the fields its type defines, each checked; an
 * edit carries its decoded delta instead of the bytes.
 */
export type CheckedWebviewMessage = Exclude<FromWebviewMessage, EditMessage> | CheckedEditMessage;

/** The outcome of the checks: the checked message in its envelope, or why it was refused. */
export type ValidMessage = { ok: true; envelope: Envelope<CheckedWebviewMessage> } | { ok: false; reason: string };

const MAX_LOG_LENGTH = 2000;

function bytesOf(value: unknown): ArrayBuffer | ArrayBufferView | undefined {
  if (value instanceof ArrayBuffer) return value;
  if (ArrayBuffer.isView(value)) return value;
  return undefined;
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Three voxel indices, or undefined when `value` is not that. */
function checkVoxel(value: unknown): [number, number, number] | undefined {
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => isIntegerIn(v, 0, 2 ** 31 - 1))) return undefined;
  return [value[0], value[1], value[2]];
}

/** A message body's shape and ranges checked: the checked message, or why it is refused. */
function checkBody(body: Record<string, unknown>, classCount: number): CheckedWebviewMessage | string {
  switch (body.type) {
    case 'ready': {
      const resume = body.resume as Record<string, unknown> | undefined;
      if (resume === undefined) return { type: 'ready' };
      const voxel = checkVoxel(resume?.crosshair);
      if (typeof resume !== 'object' || resume === null || typeof resume.fileName !== 'string' || !voxel) return 'ready: resume needs a file name and a voxel';
      return { type: 'ready', resume: { fileName: resume.fileName, crosshair: voxel } };
    }
    case 'edit': {
      if (!EDIT_LABELS.includes(body.label as EditLabel)) return `edit label ${JSON.stringify(body.label)} is unknown`;
      const bytes = bytesOf(body.delta);
      if (!bytes) return 'edit without delta bytes';
      try {
        return { type: 'edit', label: body.label as EditLabel, delta: decodeDelta(bytes) };
      } catch (error) {
        return `bad delta: ${(error as Error).message}`;
      }
    }
    case 'classEdit':
      return checkClassEdit(body.edit, classCount) ?? { type: 'classEdit', edit: body.edit as ClassEdit };
    case 'loaded': {
      const { firstPlanesMs, wholeVolumeMs, transport, voxelBytes } = body;
      if (![firstPlanesMs, wholeVolumeMs, voxelBytes].every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)) return 'loaded without timings';
      if (transport !== 'fetch' && transport !== 'chunks') return `loaded: transport ${JSON.stringify(transport)} is unknown`;
      return { type: 'loaded', firstPlanesMs: firstPlanesMs as number, wholeVolumeMs: wholeVolumeMs as number, transport, voxelBytes: voxelBytes as number };
    }
    case 'voxelsFailed':
      if (typeof body.reason !== 'string') return 'voxelsFailed needs a reason';
      return { type: 'voxelsFailed', reason: body.reason.slice(0, MAX_LOG_LENGTH) };
    case 'log': {
      const level = body.level as 'info' | 'warning' | 'error';
      if (!['info', 'warning', 'error'].includes(level) || typeof body.message !== 'string') return 'log needs a level and a message';
      const message = body.message.length > MAX_LOG_LENGTH ? body.message.slice(0, MAX_LOG_LENGTH) + '…' : body.message;
      return { type: 'log', level, message };
    }
    case 'crosshair': {
      const voxel = checkVoxel(body.voxel);
      if (!voxel) return 'crosshair needs three voxel indices';
      return { type: 'crosshair', voxel };
    }
    default:
      return `unknown message type ${JSON.stringify(body.type)}`;
  }
}

/**
 * Checks an incoming message's shape and ranges. `classCount` is the number of classes now
 * (class values are 1..classCount). Coordinates inside a delta are checked against the volume
 * by the document, which knows its grid and labels.
 */
export function validateWebviewMessage(raw: unknown, classCount: number): ValidMessage {
  if (!isEnvelope(raw)) return { ok: false, reason: 'not an envelope {id, body: {type}}' };
  const checked = checkBody(raw.body as unknown as Record<string, unknown>, classCount);
  if (typeof checked === 'string') return { ok: false, reason: checked };
  const envelope: Envelope<CheckedWebviewMessage> = { id: raw.id, body: checked };
  if (raw.replyTo !== undefined) envelope.replyTo = raw.replyTo;
  return { ok: true, envelope };
}

/** Why a class edit is not acceptable with `classCount` classes, or undefined. */
export function checkClassEdit(value: unknown, classCount: number): string | undefined {
  if (typeof value !== 'object' || value === null) return 'class edit is not an object';
  const edit = value as Record<string, unknown> & Partial<ClassEdit>;
  switch (edit.action) {
    case 'add':
      return undefined;
    case 'rename':
      if (!isIntegerIn(edit.value, 1, classCount)) return `class ${JSON.stringify(edit.value)} does not exist (1..${classCount})`;
      if (typeof edit.name !== 'string' || cleanClassName(edit.name) === '') return 'a class name must not be empty';
      return undefined;
    case 'recolor':
      if (!isIntegerIn(edit.value, 1, classCount)) return `class ${JSON.stringify(edit.value)} does not exist (1..${classCount})`;
      if (!isHexColor(edit.color)) return `colour ${JSON.stringify(edit.color)} is not #rrggbb`;
      return undefined;
    case 'remove':
      if (!isIntegerIn(edit.value, 1, classCount)) return `class ${JSON.stringify(edit.value)} does not exist (1..${classCount})`;
      if (classCount <= 1) return 'the last class cannot be removed';
      return undefined;
    default:
      return `class edit action ${JSON.stringify(edit.action)} is unknown`;
  }
}
