/**
 * The webview's modules import one another without a cycle (type-only imports included): each
 * part reaches the editor only through the small host interface it declares, and only the entry
 * point builds the editor.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/data';

const WEBVIEW = path.join(REPO_ROOT, 'webview');

/** Each webview module (file name without .ts) → the webview modules it imports, types included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of fs.readdirSync(WEBVIEW).filter((f) => f.endsWith('.ts'))) {
    const text = fs.readFileSync(path.join(WEBVIEW, file), 'utf8');
    const targets = new Set<string>();
    for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+['"](\.\/[^'"]+)['"]|(?:^|\n)\s*import\s+['"](\.\/[^'"]+)['"]/g)) {
      targets.add(path.basename(match[1] ?? match[2]).replace(/\.ts$/, ''));
    }
    graph.set(file.replace(/\.ts$/, ''), [...targets].sort());
  }
  return graph;
}

/** Every cycle found by depth-first search, as module names from the first back to it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (module: string) => {
    state.set(module, 'open');
    stack.push(module);
    for (const next of graph.get(module) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(module, 'done');
  };
  for (const module of graph.keys()) if (!state.has(module)) visit(module);
  return found;
}

test('no import cycle among the webview modules, and only the entry point imports the editor', () => {
  const graph = importGraph();
  assert.ok(graph.size >= 10, `${graph.size} modules`);
  for (const [module, targets] of graph) for (const t of targets) assert.ok(graph.has(t), `${module} imports ./${t}, which is not a webview module`);
  assert.deepEqual(cycles(graph), []);
  const importers = [...graph].filter(([, targets]) => targets.includes('editor')).map(([module]) => module);
  assert.deepEqual(importers, ['main']);
});

test('the cycle check finds a cycle through a type-only import', () => {
  const graph = new Map([
    ['editor', ['sidebar', 'store']],
    ['sidebar', ['editor']],
    ['store', []],
  ]);
  assert.deepEqual(cycles(graph), [['editor', 'sidebar', 'editor']]);
});
