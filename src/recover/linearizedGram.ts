// J diag(w) J^T for the one-hidden-layer CNN in closed form, where J is the (n O) x P Jacobian of
// the outputs at a point. Column by column (m VJPs and m JVPs) this costs m (VJP + JVP); here:
//   filter part: per filter j, V_j = rows (s, o): sum_i beta_(i,j),o m_sij [P_i x_s ; 1]  ((n O) x (p+1)),
//                Gram += V_j diag(w_j) V_j^T           (n small GEMMs to build, one GEMM to add)
//   readout part: per output o, (F diag(w_beta,o) F^T) on the (s, o) x (s', o) entries, F the features.
// For MNIST-sized problems (n O = 3000, P = 26,880) this is what makes the NTK affordable.
import type { Buf } from "../backend/types.js";
import type { Workspace } from "../model/network.js";

/**
 * out (m x m, m = n O, index s O + o) = J diag(w) J^T at the state of the workspace's last forward();
 * w: P weights (null = all ones); withReadout: include the beta rows of J (false: beta untrained).
 */
export function linearizedWeightedGram(ws: Workspace, xa: Buf, theta: Buf, w: Buf | null, withReadout: boolean, out: Buf): void {
  const { be, shape, layout, n } = ws;
  const { patches: k, filters: K, outputs: O } = shape;
  const row = layout.row, m = n * O, dense = shape.readout === "dense";
  const z = be.view(ws.z);
  const beta = be.view(be.slice(theta, layout.wSize, layout.betaSize)).slice();
  const mask = Float64Array.from(z, (v) => (v > 0 ? 1 : 0));
  be.fill(out, 0);
  const C = be.alloc(m * k), V = be.alloc(m * row), VW = be.alloc(m * row), ones = be.alloc(row);
  be.fill(ones, 1);
  try {
    for (let j = 0; j < K; j++) {
      // C_j rows (s, o), columns i: beta_(i,j),o m_sij
      const c = be.view(C);
      for (let s = 0; s < n; s++) {
        for (let i = 0; i < k; i++) {
          const on = mask[(s * k + i) * K + j];
          for (let o = 0; o < O; o++) c[(s * O + o) * k + i] = on ? beta[(dense ? i * K + j : j) * O + o] : 0;
        }
      }
      for (let s = 0; s < n; s++) {
        be.gemm(false, false, O, row, k, 1, be.slice(C, s * O * k, O * k), k, be.slice(xa, s * k * row, k * row), row, 0, be.slice(V, s * O * row, O * row), row);
      }
      const wj = w ? be.slice(w, j * row, row) : ones;
      be.scaleColumns(VW, V, m, row, wj);
      be.gemm(false, true, m, m, row, 1, VW, row, V, row, 1, out, m);
    }
  } finally {
    for (const b of [C, V, VW, ones]) be.free(b);
  }
  if (!withReadout) return;
  const fdim = dense ? k * K : K;
  const F = dense ? ws.a : ws.h;
  const wo = be.alloc(fdim), FW = be.alloc(n * fdim), T = be.alloc(n * n);
  try {
    for (let o = 0; o < O; o++) {
      const wv = be.view(wo);
      if (w) { const all = be.view(w); for (let f = 0; f < fdim; f++) wv[f] = all[layout.wSize + f * O + o]; }
      else wv.fill(1);
      be.scaleColumns(FW, F, n, fdim, wo);
      be.gemm(false, true, n, n, fdim, 1, FW, fdim, F, fdim, 0, T, n);
      const t = be.view(T), g = be.view(out);
      for (let s = 0; s < n; s++) for (let s2 = 0; s2 < n; s2++) g[(s * O + o) * m + s2 * O + o] += t[s * n + s2];
    }
  } finally {
    for (const b of [wo, FW, T]) be.free(b);
  }
}

