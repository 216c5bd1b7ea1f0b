/**
 * Quick picks that remember: each asks with the last answer given in this workspace (kept in
 * workspaceState) first and marked, then the usual choices.
 */
import * as vscode from 'vscode';

export interface Choice<T> extends vscode.QuickPickItem {
  value: T;
}

/**
 * Shows `choices` with the remembered one (same `key(value)`) moved first and marked; returns
 * the pick (undefined when dismissed) and remembers it.
 */
export async function pickRemembered<T>(
  state: vscode.Memento,
  memoryKey: string,
  title: string,
  choices: Choice<T>[],
  key: (value: T) => string,
  placeHolder?: string,
): Promise<T | undefined> {
  const last = state.get<string>(memoryKey);
  const items = choices.map((c) => ({ ...c }));
  const index = items.findIndex((c) => key(c.value) === last);
  if (index > 0) items.unshift(...items.splice(index, 1));
  if (index >= 0) items[0].description = [items[0].description, 'last used'].filter(Boolean).join(' · ');
  const picked = await vscode.window.showQuickPick(items, { title, placeHolder, ignoreFocusOut: true });
  if (!picked) return undefined;
  await state.update(memoryKey, key(picked.value));
  return picked.value;
}
