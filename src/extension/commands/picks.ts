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
  choices: Choice<T>[] | Thenable<Choice<T>[]>,
  key: (value: T) => string,
  placeHolder?: string,
): Promise<T | undefined> {
  const last = state.get<string>(memoryKey);
  // Choices still being worked out: the quick pick shows its busy bar until they come.
  const items = Promise.resolve(choices).then((list) => {
    const out = list.map((c) => ({ ...c }));
    const index = out.findIndex((c) => key(c.value) === last);
    if (index > 0) out.unshift(...out.splice(index, 1));
    if (index >= 0) out[0].description = [out[0].description, 'last used'].filter(Boolean).join(' · ');
    return out;
  });
  const picked = await vscode.window.showQuickPick(items, { title, placeHolder, ignoreFocusOut: true });
  if (!picked) return undefined;
  await state.update(memoryKey, key(picked.value));
  return picked.value;
}
