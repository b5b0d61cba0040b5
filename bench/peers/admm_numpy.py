"""The native peer of the benchmark: cnn-purify's ADMM for B least-absolute-deviation problems that
share one dense span (the patch span), in numpy + scipy, vectorized over the problems and in place.

Same algorithm as src/recover/admm.ts and src/recover/polish.ts, step for step:
  G = A^T A factored once (Cholesky), A^+ = G^-1 A^T formed once, so each u-step is one GEMM;
  z = A u - r, y = 0, mu_b = 1 / (||r_b|| / sqrt(N));
  per iteration: u = A^+ (r + z - y); A u; the over-relaxed (alpha 1.6) z and y steps with the
  soft threshold 1/mu_b; Boyd's stopping rule (abs 1e-12, rel 1e-10); converged problems frozen;
  residual balancing every 10 iterations (mu x2 or /2, y rescaled); every 50 iterations the l1
  objective, and a stop when it improved by <= 1e-5 over the last 200;
  then polishing: least squares on the rows fit to 1e-6 rms(r), then to 1e-9 rms(r), up to four
  rounds, stopping when the row set repeats, accepted only if the l1 objective does not grow.
Layouts as ours: xa is A^T (m x N, the augmented patch rows), r is B x N (one problem per row).

Usage: python3 admm_numpy.py DIR [--dtype float64|float32] [--rounds 3]
DIR holds xa.npy and r.npy; writes DIR/u.npy (m x B) and prints one JSON line
{ "seconds": median solve time, "times": [...], "iterations", "blas": ..., "threads": ... }.
With --dtype float32 the ADMM iterations run in f32 (A, A^+, r, z, y rounded) and polishing in f64,
as cnn-purify's mixed arithmetic.
"""
import json
import os
import sys
import time

import numpy as np
import scipy.linalg as sla


def admm(xa, r, dtype, max_iter=5000, abs_tol=1e-12, rel_tol=1e-10, alpha=1.6, stall_tol=1e-5):
    m, N = xa.shape
    B = r.shape[0]
    g = xa @ xa.T
    try:
        c = sla.cho_factor(g, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        c = sla.cho_factor(g + 1e-12 * np.trace(g) / m * np.eye(m), lower=True, check_finite=False)
    pinv = sla.cho_solve(c, xa, check_finite=False)  # m x N
    if dtype == np.float32:
        rel_tol = max(rel_tol, 3e-6)
    A = xa.astype(dtype)
    P = pinv.astype(dtype)
    R = r.astype(dtype)
    r_norm = np.linalg.norm(r, axis=1)
    mu = 1.0 / np.maximum(r_norm / np.sqrt(N), 1e-300)
    u = np.zeros((m, B), dtype)
    au = np.zeros((B, N), dtype)
    z = -R.copy()
    y = np.zeros((B, N), dtype)
    q, v, zn, tmp, p, d, yn = (np.empty((B, N), dtype) for _ in range(7))
    done = np.zeros(B, bool)
    history = []
    it = 0
    sq = np.sqrt(N)
    for it in range(1, max_iter + 1):
        np.subtract(R, y, out=q)
        q += z
        np.matmul(P, q.T, out=u)
        np.matmul(u.T, A, out=au)
        t = (1.0 / mu).astype(dtype)[:, None]
        # v = alpha au + (1 - alpha)(z + r) - r + y; z = soft(v, t); y = v - z (frozen rows keep theirs)
        np.add(z, R, out=v)
        v *= (1 - alpha)
        v += alpha * au
        v -= R
        v += y
        np.subtract(v, t, out=zn)
        np.maximum(zn, 0, out=zn)
        np.add(v, t, out=tmp)
        np.minimum(tmp, 0, out=tmp)
        zn += tmp
        active = ~done
        np.subtract(au, R, out=p)
        p -= zn
        np.subtract(zn, z, out=d)
        np.subtract(v, zn, out=yn)
        rp = np.sqrt(np.einsum("ij,ij->i", p, p, dtype=np.float64))
        sd = mu * np.sqrt(np.einsum("ij,ij->i", d, d, dtype=np.float64))
        eps_p = sq * abs_tol + rel_tol * np.maximum(np.maximum(np.linalg.norm(au, axis=1), np.linalg.norm(zn, axis=1)), r_norm)
        eps_d = sq * abs_tol + rel_tol * mu * np.linalg.norm(yn, axis=1)
        np.copyto(z, zn, where=active[:, None])
        np.copyto(y, yn, where=active[:, None])
        done |= active & (rp <= eps_p) & (sd <= eps_d)
        if done.all():
            break
        if it % 10 == 0:
            up = ~done & (rp > 10 * sd)
            down = ~done & (sd > 10 * rp)
            mu[up] *= 2
            y[up] *= 0.5
            mu[down] /= 2
            y[down] *= 2
        if it % 50 == 0:
            np.subtract(au, R, out=tmp)
            obj = float(np.abs(tmp, out=tmp).sum(dtype=np.float64))
            history.append(obj)
            if len(history) > 4 and history[-5] - obj <= stall_tol * obj:
                break
    u64 = u.astype(np.float64)
    return u64, it


def polish(xa, r, u, tol0=1e-6, rounds=4):
    """Polishes every problem (columns of u) at once: batched weighted Grams and solves."""
    m, N = xa.shape
    B = r.shape[0]
    res = (u.T @ xa) - r
    scale = np.maximum(np.sqrt((r * r).mean(axis=1)), 1e-300)[:, None]
    tol = tol0 * scale
    l1 = np.abs(res).sum(axis=1)
    best_u = u.copy()
    prev = np.zeros((B, N), bool)
    open_ = np.ones(B, bool)
    for rnd in range(rounds):
        w = np.abs(res) <= tol
        count = w.sum(axis=1)
        same = (w == prev).all(axis=1) & (rnd > 0)
        open_ &= (count >= m) & ~same
        if not open_.any():
            break
        idx = np.nonzero(open_)[0]
        prev[idx] = w[idx]
        xw = xa[None, :, :] * w[idx][:, None, :]  # k x m x N
        gs = xw @ xa.T
        rhs = np.einsum("kmn,kn->km", xw, r[idx])
        try:
            sol = np.linalg.solve(gs, rhs[..., None])[..., 0]  # k x m
        except np.linalg.LinAlgError:
            break
        new_res = sol @ xa - r[idx]
        new_l1 = np.abs(new_res).sum(axis=1)
        ok = new_l1 <= l1[idx] * (1 + 1e-12) + 1e-300
        acc = idx[ok]
        best_u[:, acc] = sol[ok].T
        res[acc] = new_res[ok]
        l1[acc] = new_l1[ok]
        open_[idx[~ok]] = False
        tol = np.full_like(tol, 0) + 1e-9 * scale
    return best_u


def main():
    d = sys.argv[1]
    dtype = np.float32 if "--dtype" in sys.argv and sys.argv[sys.argv.index("--dtype") + 1] == "float32" else np.float64
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    xa = np.load(os.path.join(d, "xa.npy"))
    r = np.load(os.path.join(d, "r.npy"))
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        u, iters = admm(xa, r, dtype)
        u = polish(xa, r, u)
        times.append(time.perf_counter() - t0)
    np.save(os.path.join(d, "u.npy"), u)
    print(json.dumps({
        "seconds": sorted(times)[len(times) // 2], "times": times, "iterations": iters, "dtype": np.dtype(dtype).name,
        "threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"), "numpy": np.__version__,
    }))


if __name__ == "__main__":
    main()
