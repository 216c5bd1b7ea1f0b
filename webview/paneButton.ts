/** A pane header's small button: a click runs `action` without reaching the pane below it. */
export function paneButton(text: string, title: string, action: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.className = 'pane-button';
  b.textContent = text;
  b.title = title;
  b.addEventListener('click', (e) => {
    e.stopPropagation();
    action();
  });
  return b;
}
