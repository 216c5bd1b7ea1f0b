/** The compute-backend report as Markdown (Show Compute Backend). Pure: unit-tested. */
import type { BackendName, BackendReport } from '../../protocol/backends';

/** How the report names each backend (the reasons and fixes the worker sends name the npm packages). */
const TITLES: Record<BackendName, string> = {
  'tensorflow-gpu': 'TensorFlow with CUDA (tensorflow-gpu)',
  webgpu: 'WebGPU on the GPU (webgpu)',
  tensorflow: 'TensorFlow on the CPU (tensorflow)',
  wasm: 'WebAssembly (wasm)',
  cpu: 'Plain JavaScript (cpu)',
};

/** The backend a run would use with the setting `preference`, and why (pure). */
export function chosenBackend(report: BackendReport, preference: BackendName | 'auto'): { name: BackendName | undefined; note: string } {
  if (preference === 'auto') return { name: report.active, note: 'the first that loads (setting unet3d.backend: auto)' };
  const status = report.statuses.find((s) => s.name === preference);
  if (status?.available) return { name: preference, note: `the setting unet3d.backend asks for it` };
  // `auto` passes over a software adapter; named, webgpu runs on it.
  if (status?.adapter?.software) return { name: preference, note: `the setting unet3d.backend asks for it, on a software adapter (a CPU emulating a GPU)` };
  return { name: undefined, note: `the setting unet3d.backend asks for ${preference}, which does not load here: runs will fail until it loads or the setting is "auto"` };
}

/** The report as Markdown (pure). */
export function backendReportMarkdown(report: BackendReport, preference: BackendName | 'auto'): string {
  const chosen = chosenBackend(report, preference);
  const lines = ['# 3D U-Net: compute backend', ''];
  lines.push(chosen.name ? `Training and segmentation run on **${chosen.name}** — ${TITLES[chosen.name]}: ${chosen.note}.` : `**No backend**: ${chosen.note}.`);
  lines.push('', '| backend | loads | details |', '| --- | --- | --- |');
  for (const s of report.statuses) {
    const details = s.available ? s.detail ?? '' : `${s.reason ?? 'did not load'}${s.fix ? `. **Fix:** ${s.fix}` : ''}`;
    lines.push(`| ${TITLES[s.name]} | ${s.available ? (s.name === chosen.name ? '✓ (in use)' : '✓') : '✗'} | ${details.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`);
  }
  const unavailable = report.statuses.filter((s) => !s.available);
  if (unavailable.length) {
    lines.push('', '## Why the others do not load, and what to do');
    for (const s of unavailable) {
      lines.push('', `### ${TITLES[s.name]}`, '', `- Why: ${s.reason ?? 'it did not load'}`, `- Fix: ${s.fix ?? 'none known; see the extension log (3D U-Net output channel)'}`);
      if (s.location) lines.push(`- Found in: \`${s.location}\``);
      if (s.searched?.length) lines.push(`- Looked in, in this order: ${s.searched.map((p) => `\`${p}\``).join(', ')}`);
    }
  }
  const native = report.statuses.filter((s) => s.available && s.location);
  if (native.length) {
    lines.push('', '## Native TensorFlow');
    for (const s of native) lines.push('', `- ${TITLES[s.name]}: loaded from \`${s.location}\`${s.searched && s.searched.length > 1 ? ` (looked in ${s.searched.map((p) => `\`${p}\``).join(', ')})` : ''}`);
  }
  const adapter = report.statuses.find((s) => s.adapter)?.adapter;
  if (adapter) {
    const l = adapter.limits;
    const mib = (n: number) => `${Math.round(n / 2 ** 20).toLocaleString('en-US')} MiB`;
    lines.push(
      '',
      '## GPU adapter (WebGPU)',
      '',
      `- ${adapter.description || '(no description)'}: vendor ${adapter.vendor || '?'}, architecture ${adapter.architecture || '?'}, **${adapter.software ? 'software (a CPU emulating a GPU)' : 'hardware'}**`,
      `- Memory: ${adapter.memory ? `${(adapter.memory.bytes / 2 ** 30).toFixed(1)} GiB (${adapter.memory.source})` : 'unknown (WebGPU does not tell)'}`,
      `- Limits: largest buffer ${mib(l.maxBufferSize)}, largest storage binding (tensor) ${mib(l.maxStorageBufferBindingSize)}, workgroup memory ${l.maxComputeWorkgroupStorageSize} bytes, ${l.maxComputeInvocationsPerWorkgroup} threads per workgroup`,
    );
  }
  lines.push('', 'The backends are tried in this order: TensorFlow with CUDA, WebGPU (a hardware GPU only), TensorFlow on the CPU, WebAssembly, plain JavaScript. Set `unet3d.backend` to use one of them only.');
  return lines.join('\n') + '\n';
}
