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
  type Envelope,
  type FromWebviewMessage,
} from '../../protocol/webview';

/** A checked message: the envelope, and for an edit its decoded delta. */
export type ValidMessage =
  | { ok: true; envelope: Envelope<FromWebviewMessage>; delta?: LabelDelta }
  | { ok: false; reason: string };

const MAX_LOG_LENGTH = 2000;

function bytesOf(value: unknown): ArrayBuffer | ArrayBufferView | undefined {
  if (value instanceof ArrayBuffer) return value;
  if (ArrayBuffer.isView(value)) return value;
  return undefined;
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * Checks an incoming message's shape and ranges. `classCount` is the number of classes now
 * (class values are 1..classCount). Coordinates inside a delta are checked against the volume
 * by the document, which knows its grid and labels.
 */
export function validateWebviewMessage(raw: unknown, classCount: number): ValidMessage {
  if (!isEnvelope(raw)) return { ok: false, reason: 'not an envelope {id, body: {type}}' };
  const body = raw.body as unknown as Record<string, unknown>;
  const envelope = raw as Envelope<FromWebviewMessage>;
  switch (body.type) {
    case 'ready':
      return { ok: true, envelope };
    case 'edit': {
      if (!EDIT_LABELS.includes(body.label as EditLabel)) return { ok: false, reason: `edit label ${JSON.stringify(body.label)} is unknown` };
      const bytes = bytesOf(body.delta);
      if (!bytes) return { ok: false, reason: 'edit without delta bytes' };
      try {
        return { ok: true, envelope, delta: decodeDelta(bytes) };
      } catch (error) {
        return { ok: false, reason: `bad delta: ${(error as Error).message}` };
      }
    }
    case 'classEdit': {
      const problem = checkClassEdit(body.edit, classCount);
      return problem ? { ok: false, reason: problem } : { ok: true, envelope };
    }
    case 'loaded':
      if (typeof body.receiveMs !== 'number' || typeof body.firstRenderMs !== 'number') return { ok: false, reason: 'loaded without timings' };
      return { ok: true, envelope };
    case 'log':
      if (!['info', 'warning', 'error'].includes(body.level as string) || typeof body.message !== 'string') {
        return { ok: false, reason: 'log needs a level and a message' };
      }
      if (body.message.length > MAX_LOG_LENGTH) body.message = body.message.slice(0, MAX_LOG_LENGTH) + '…';
      return { ok: true, envelope };
    default:
      return { ok: false, reason: `unknown message type ${JSON.stringify(body.type)}` };
  }
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
