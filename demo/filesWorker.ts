// The files page's worker: opens the user's files with the CLI's readers (src/files), sizes the
// problem first (refused past the memory limit, with the number), then checks or purifies.
// Terminating this worker is the page's cancel button. It runs from a Blob of its own script and
// gets its kernel binaries as compiled modules from the page, so starting one fetches nothing.
import { checkModel, createBackend, openFileProblem, plainReport, setWasmSource } from "../src/browser.js";
import type { PageMessage, PageRequest } from "./filesProtocol.js";

const post = (m: PageMessage, transfer: Transferable[] = []) => (self as unknown as { postMessage(m: PageMessage, t: Transferable[]): void }).postMessage(m, transfer);

self.onmessage = async (e: MessageEvent<PageRequest>) => {
  if (e.data.action === "warm") {
    // the page hands over the binaries it compiled at load: this worker fetches nothing
    setWasmSource(e.data.modules);
    await createBackend("wasm");
    post({ type: "warm" });
    return;
  }
  const { action, files, options, memoryLimit } = e.data;
  try {
    const problem = openFileProblem(files, options);
    post({ type: "sized", memoryBytes: problem.memoryBytes, span: problem.choice.subspace, reason: problem.choice.reason, warnings: problem.choice.warnings });
    if (problem.memoryBytes > memoryLimit) {
      post({ type: "error", message: `this problem needs about ${problem.memoryBytes} bytes of working memory; this page allows ${memoryLimit}. Use fewer training images.` });
      return;
    }
    if (action === "check") {
      post({ type: "progress", fraction: 0.1, text: "checking" });
      post({ type: "checked", result: await checkModel(files, options) });
      return;
    }
    const cap = problem.maxIter;
    const r = await problem.run({ onProgress: (it, text) => post({ type: "progress", fraction: Math.min(it, cap) / cap, text }) });
    const stem = files.model.name.replace(/\.[^.]+$/, ""), ext = files.model.name.slice(stem.length);
    const detail = { report: plainReport(r.detail) };
    // the file's tensors before and after, for the plots
    const byTensor = new Map<string, { before: number[]; after: number[] }>();
    for (let i = 0; i < r.params.length; i++) {
      const at = r.model.locate(i);
      if (!at) continue;
      const t = byTensor.get(at.tensor) ?? { before: [], after: [] };
      t.before.push(r.model.theta[i]); t.after.push(r.params[i]);
      byTensor.set(at.tensor, t);
    }
    const tensors = [...byTensor].map(([name, t]) => ({ name, before: Float64Array.from(t.before), after: Float64Array.from(t.after) }));
    post({ type: "purified", name: `${stem}.purified${ext}`, bytes: r.file.bytes, report: { ...r.summary, ...detail, options }, tensors });
  } catch (err) {
    post({ type: "error", message: (err as Error).message ?? String(err) });
  }
};
