/** `npm run setup:e2e`: installs (or checks) the end-to-end toolchain and prints where it is. */
import { ensureToolchain } from './toolchain';

const tools = ensureToolchain();
console.log(`[e2e-setup] node ${tools.node}\n[e2e-setup] code-server ${tools.codeServerEntry}\n[e2e-setup] chromium ${tools.chromium}`);
