// Where the renderer's time went in a window of a `bench:editor --profile` open: the functions with
// the most samples of their own, and the callers' chains (bottom-up), between FROM and TO seconds
// after the pick. Usage: node test/e2e/profileSummary.mjs open-512.cpuprofile 1.4 2.3 [top]
import fs from 'node:fs';

const [file, fromArg, toArg, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profileSummary.mjs FILE [FROM TO] [TOP]');
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const from = fromArg === undefined ? -Infinity : Number(fromArg);
const to = toArg === undefined ? Infinity : Number(toArg);
const top = Number(topArg ?? 25);
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${f.url.split('/').pop()}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
};
// Sample i lasts from its time to the next one's; times in seconds after the pick.
let t = profile.startTime;
const self = new Map();
const chains = new Map();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  if (i > 0) t += profile.timeDeltas[i]; // the first delta runs from an earlier start of the profiler, not this one
  const seconds = (profile.startedAt + (t - profile.startTime) / 1000 - profile.pickedAt) / 1000;
  if (seconds < from || seconds > to) continue;
  const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
  total += dt;
  const leaf = nodes.get(profile.samples[i]);
  const key = name(leaf);
  self.set(key, (self.get(key) ?? 0) + dt);
  const chain = [];
  for (let id = leaf.id, d = 0; id !== undefined && d < 6; id = parent.get(id), d++) chain.push(name(nodes.get(id)));
  const c = chain.join(' < ');
  chains.set(c, (chains.get(c) ?? 0) + dt);
}
const show = (map) => [...map].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, ms]) => `${ms.toFixed(1).padStart(8)} ms  ${k}`).join('\n');
console.log(`${total.toFixed(0)} ms sampled between ${from} and ${to} s after the pick\n\nself time:\n${show(self)}\n\nchains:\n${show(chains)}`);
