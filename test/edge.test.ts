// The edge build and its fetch-style handler, driven with the standard Request/Response objects.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runSynthetic } from "../src/experiments/synthetic.js";

const EDGE = new URL("../dist/bundle/edge/cnn-purify.js", import.meta.url);

async function instance() {
  const run = await runSynthetic({ p: 40, patches: 4, samples: 3, filters: 3, rho: 0.1, seed: 2 });
  return {
    run,
    body: {
      shape: run.shape, init: Array.from(run.init), contaminated: Array.from(run.contaminated, (v) => (Number.isFinite(v) ? v : null)),
      data: { samples: run.data.samples, patches: run.data.patches, patchDim: run.data.patchDim, values: Array.from(run.data.values) },
      options: { trainedReadout: false },
    },
  };
}

const post = (body: unknown, headers: Record<string, string> = { "content-type": "application/json" }) =>
  new Request("http://edge.test/purify", { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });

describe("edge bundle", () => {
  it("has no node: imports or require calls", () => {
    const text = readFileSync(EDGE, "utf8");
    expect(text).not.toMatch(/\bfrom\s*["']node:|\bimport\s*\(\s*["']node:/);
    expect(text).not.toMatch(/\brequire\(/);
  });

  it("purifies a request and answers what the Node API computes, bit for bit", async () => {
    const { createPurifyHandler } = await import(EDGE.href);
    const { run, body } = await instance();
    body.contaminated[7] = null; // an erasure travels as null
    const res: Response = await createPurifyHandler()(post(body));
    expect(res.status).toBe(200);
    const out = await res.json();
    const { purify } = await import("../src/recover/purify.js");
    const c = run.contaminated.slice(); c[7] = NaN;
    const local = await purify(c, { shape: run.shape, init: run.init, data: run.data, trainedReadout: false });
    expect(out.params).toEqual(Array.from(local.params));
    expect(out.report.recovered).toBe(true);
    expect(out.report.erasures).toEqual([7]);
  });

  it.each([
    ["GET", () => new Request("http://edge.test/purify"), 405, /method GET not allowed/],
    ["wrong content type", () => post("{}", { "content-type": "text/plain" }), 415, /content-type must be application\/json/],
    ["malformed JSON", () => post("{ not json"), 400, /malformed JSON/],
    ["an array body", () => post([1, 2]), 400, /body must be a JSON object/],
    ["a missing field", () => post({ shape: {}, init: [] }), 400, /missing field "contaminated"/],
  ])("%s -> %d", async (_name, make, status, msg) => {
    const { createPurifyHandler } = await import(EDGE.href);
    const res: Response = await createPurifyHandler()(make());
    expect(res.status).toBe(status);
    expect((await res.json()).error).toMatch(msg);
  });

  it("wrong shapes, non-numbers, unknown options and oversize requests get clear 4xx answers", async () => {
    const { createPurifyHandler } = await import(EDGE.href);
    const h = createPurifyHandler();
    const { body } = await instance();
    const cases: Array<[unknown, number, RegExp]> = [
      [{ ...body, init: body.init.slice(1) }, 400, /init has length \d+, expected \d+ parameters/],
      [{ ...body, data: { ...body.data, values: body.data.values.slice(3) } }, 400, /data.values has length/],
      [{ ...body, init: ["a", ...body.init.slice(1)] }, 400, /init\[0\] is "a", expected a number/],
      [{ ...body, options: { workers: 4 } }, 400, /unknown option "workers"/],
      [{ ...body, shape: { ...body.shape, readout: "max" } }, 400, /unknown readout "max"/],
      // an unknown span was purified in the auto span (200) before the span rule checked the name
      [{ ...body, options: { subspace: "pca" } }, 400, /unknown subspace "pca" for the one-hidden-layer model \(known: auto, patch, linearized, relinearized\)/],
      [{ ...body, options: { trainedReadout: "false" } }, 400, /trainedReadout must be true or false, got "false"/],
    ];
    for (const [b, status, msg] of cases) {
      const res: Response = await h(post(b));
      expect(res.status).toBe(status);
      expect((await res.json()).error).toMatch(msg);
    }
    const small = await createPurifyHandler({ maxBodyBytes: 100 })(post(body));
    expect(small.status).toBe(413);
    const mem = await createPurifyHandler({ maxMemoryBytes: 1000 })(post(body));
    expect(mem.status).toBe(413);
    expect((await mem.json()).error).toMatch(/needs about \d+ bytes of working memory; the limit is 1000/);
  });
});

describe("edge JSON: a sequential CNN", () => {
  it("purifies { model, init, contaminated, data } as the Node API does, bit for bit; a bad model or option is a 400", async () => {
    const { createPurifyHandler } = await import(EDGE.href);
    const { frozenFirstLayerCnn } = await import("./helpers.js");
    const { model, n, x, init, clean, frozen } = await frozenFirstLayerCnn();
    const c = clean.slice(); c[200] += 1;
    const body = { model, init: Array.from(init), contaminated: Array.from(c), data: { samples: n, values: Array.from(x) }, options: { frozen } };
    const res: Response = await createPurifyHandler()(post(body));
    expect(res.status).toBe(200);
    const out = await res.json();
    const { purify } = await import("../src/recover/purify.js");
    const local = await purify(c, { model, init, data: { samples: n, values: x }, frozen });
    expect(out.params).toEqual(Array.from(local.params));
    expect(out.report.subspace).toBe("layerwise");
    expect(out.report.recovered).toBe(true);
    expect(out.report.estimatedContaminated).toEqual([200]);
    for (const [b, msg] of [
      [{ ...body, model: { layers: [] } }, /"model" must be \{ input/],
      // the one-hidden form's shape is checked as well before anything is sized by it (was a 500: TypeError)
      [{ shape: null, init: body.init, contaminated: body.contaminated, data: body.data }, /"shape" must be \{ patchDim/],
      [{ shape: { patchDim: 4 }, init: body.init, contaminated: body.contaminated, data: body.data }, /shape/],
      [{ ...body, options: { trainedReadout: false } }, /unknown option "trainedReadout" \(known: .*frozen\)/],
      [{ ...body, options: { frozen, subspace: "patch" } }, /unknown subspace "patch" for a sequential model/],
      // sized by the span rule before purify(): a frozen that is no list was a 500 (TypeError) there
      [{ ...body, options: { frozen: 5 } }, /frozen must be a list of layer indices, got 5/],
      [{ ...body, data: { samples: n, values: body.data.values.slice(1) } }, /data has \d+ values for 4 samples/],
    ] as Array<[unknown, RegExp]>) {
      const r: Response = await createPurifyHandler()(post(b));
      expect(r.status).toBe(400);
      expect((await r.json()).error).toMatch(msg);
    }
  });
});

describe("edge files: the options part", () => {
  it("names a bad option by the name the caller sent (maxIter, initRows), with a 400 before anything is solved", async () => {
    const { createPurifyHandler } = await import(EDGE.href);
    const dir = new URL("./fixtures/pytorch/one-hidden/", import.meta.url);
    const form = (options: unknown) => {
      const f = new FormData();
      for (const name of ["model.pt", "init.pt", "data.npy"]) f.append(name.split(".")[0], new Blob([readFileSync(new URL(name, dir))]), name);
      f.append("options", JSON.stringify(options));
      return new Request("http://edge.test/purify", { method: "POST", body: f });
    };
    // before, these reached purify() and came back as admm.maxIter and weightDecay, names the caller never sent
    for (const [options, msg] of [
      [{ maxIter: "150" }, /^maxIter must be an integer >= 1, got "150"$/],
      [{ maxIter: 0 }, /^maxIter must be an integer >= 1, got 0$/],
      [{ initRows: 1 }, /^initRows must be true or false, got 1$/],
      [{ bogus: 1 }, /^unknown option "bogus" \(known: subspace, .*initRows\)$/],
    ] as Array<[unknown, RegExp]>) {
      const res: Response = await createPurifyHandler()(form(options));
      expect(res.status).toBe(400);
      expect((await res.json()).error).toMatch(msg);
    }
  });
});
