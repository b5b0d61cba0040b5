// J diag(w) J^T for the one-hidden-layer CNN in closed form, where J is the (n O) x P Jacobian of
// the outputs at a point. Column by column (m VJPs and m JVPs) this costs m (VJP + JVP); here:
//   filter part: per filter j, V_j = rows (s, o): sum_i beta_(i,j),o m_sij [P_i x_s ; 1]  ((n O) x (p+1)),
//                Gram += V_j diag(w_j) V_j^T           (n small GEMMs to build, one GEMM to add)
//   readout part: per output o, (F diag(w_beta,o) F^T) on the (s, o) x (s', o) entries, F the features.
// For MNIST-sized problems (n O = 3000, P = 26,880) this is what makes the NTK affordable.
import type { Buf } from "../backend/types.js";
import type { Workspace } from "../model/network.js";

/** One linearization point: a workspace after forward() at theta. */
export interface LinearizationPoint { ws: Workspace; theta: Buf }

/**
 * out (m x m, m = n O, index s O + o) = J diag(w) J^T at the state of the workspace's last forward();
 * w: P weights (null = all ones); withReadout: include the beta rows of J (false: beta untrained).
 */
export function linearizedWeightedGram(ws: Workspace, xa: Buf, theta: Buf, w: Buf | null, withReadout: boolean, out: Buf): void {
  linearizedCrossGram({ ws, theta }, { ws, theta }, xa, w, withReadout, out);
}

/** Filter j's V rows (s, o) at a point into V (m x (p+1)); C is (m x k) scratch. */
function filterRows(pt: LinearizationPoint, xa: Buf, j: number, C: Buf, V: Buf, betaHost: Float64Array, maskHost: Float64Array): void {
  const { be, shape, layout, n } = pt.ws;
  const { patches: k, filters: K, outputs: O } = shape;
  const row = layout.row, dense = shape.readout === "dense";
  const c = be.view(C);
  for (let s = 0; s < n; s++) {
    for (let i = 0; i < k; i++) {
      const on = maskHost[(s * k + i) * K + j];
      for (let o = 0; o < O; o++) c[(s * O + o) * k + i] = on ? betaHost[(dense ? i * K + j : j) * O + o] : 0;
    }
  }
  for (let s = 0; s < n; s++) {
    be.gemm(false, false, O, row, k, 1, be.slice(C, s * O * k, O * k), k, be.slice(xa, s * k * row, k * row), row, 0, be.slice(V, s * O * row, O * row), row);
  }
}

/**
 * out (m x m) = J_a diag(w) J_b^T for two linearization points of the same network and data
 * (a = b gives the NTK; a != b the cross block of the re-linearized span's Gram).
 */
export function linearizedCrossGram(a: LinearizationPoint, b: LinearizationPoint, xa: Buf, w: Buf | null, withReadout: boolean, out: Buf): void {
  const { be, shape, layout, n } = a.ws;
  const { patches: k, filters: K, outputs: O } = shape;
  const row = layout.row, m = n * O, dense = shape.readout === "dense", same = a === b || (a.ws === b.ws && a.theta === b.theta);
  const host = (pt: LinearizationPoint) => ({
    beta: be.view(be.slice(pt.theta, layout.wSize, layout.betaSize)).slice(),
    mask: Float64Array.from(be.view(pt.ws.z), (v) => (v > 0 ? 1 : 0)),
  });
  const ha = host(a), hb = same ? ha : host(b);
  be.fill(out, 0);
  const C = be.alloc(m * k), Va = be.alloc(m * row), Vb = same ? Va : be.alloc(m * row), VW = be.alloc(m * row), ones = be.alloc(row);
  be.fill(ones, 1);
  try {
    for (let j = 0; j < K; j++) {
      filterRows(a, xa, j, C, Va, ha.beta, ha.mask);
      if (!same) filterRows(b, xa, j, C, Vb, hb.beta, hb.mask);
      be.scaleColumns(VW, Va, m, row, w ? be.slice(w, j * row, row) : ones);
      be.gemm(false, true, m, m, row, 1, VW, row, Vb, row, 1, out, m);
    }
  } finally {
    for (const buf of same ? [C, Va, VW, ones] : [C, Va, Vb, VW, ones]) be.free(buf);
  }
  if (!withReadout) return;
  const fdim = dense ? k * K : K;
  const Fa = dense ? a.ws.a : a.ws.h, Fb = dense ? b.ws.a : b.ws.h;
  const wo = be.alloc(fdim), FW = be.alloc(n * fdim), T = be.alloc(n * n);
  try {
    for (let o = 0; o < O; o++) {
      const wv = be.view(wo);
      if (w) { const all = be.view(w); for (let f = 0; f < fdim; f++) wv[f] = all[layout.wSize + f * O + o]; }
      else wv.fill(1);
      be.scaleColumns(FW, Fa, n, fdim, wo);
      be.gemm(false, true, n, n, fdim, 1, FW, fdim, Fb, fdim, 0, T, n);
      const t = be.view(T), g = be.view(out);
      for (let s = 0; s < n; s++) for (let s2 = 0; s2 < n; s2++) g[(s * O + o) * m + s2 * O + o] += t[s * n + s2];
    }
  } finally {
    for (const buf of [wo, FW, T]) be.free(buf);
  }
}
