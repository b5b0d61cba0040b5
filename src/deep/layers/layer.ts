// One layer kind of the sequential model, the way neural-tangents' stax composes layers: each kind
// knows its shape rule, its buffers, and its forward, VJP and JVP passes; src/deep/sequential.ts
// only walks the plan. Adding a kind is one file here and one line in ./index.ts. The structured
// NTK (src/deep/ntk.ts) takes the per-sample signals the layers with parameters expose.
import type { Backend, Buf, ConvGeometry } from "../../backend/types.js";

export interface Dims { C: number; H: number; W: number }

/** What a kind's shape rule gives: the output dims and, for kinds with parameters, their layout. */
export interface LayerShape {
  output: Dims;
  /** Linear layers (conv, dense): W~ has `rows` rows of `rowLength` = p + 1 entries. */
  rows?: number;
  rowLength?: number;
  geometry?: ConvGeometry | null;
  /** Parameters at the layer's offset in theta (linear layers: rows x rowLength). */
  params?: number;
  /** Statistics right after them, never trained or purified (BatchNorm's mean and var). */
  stats?: number;
}

/** A planned layer: the spec, its dims and where its parameters lie in theta. */
export interface PlannedLayer<S = { type: string }> {
  spec: S;
  input: Dims;
  output: Dims;
  offset: number;
  rows: number;
  rowLength: number;
  geometry: ConvGeometry | null;
  params: number;
  stats: number;
}

/** The buffers one layer owns in a workspace of n samples (kind-specific), and its output. */
export interface LayerPass<S = { type: string }> {
  be: Backend;
  n: number;
  l: PlannedLayer<S>;
  /** The kind's own buffers (from buffers()), e.g. patch rows or argmax indices. */
  state: LayerState;
}

/** Buffers a kind may keep per workspace; `cols` (augmented patch rows) is what the NTK and the layerwise span read. */
export interface LayerState { cols?: Buf; rows?: Buf; argmax?: Buf; [k: string]: Buf | undefined }

export interface LayerKind<S extends { type: string } = { type: string }> {
  /** Checks the spec against its input dims; throws naming the layer (`where`). */
  shape(spec: S, input: Dims, where: string): LayerShape;
  /** Buffers for n samples, only through alloc (freed with the workspace; counted by workspaceEntries). */
  buffers?(l: PlannedLayer<S>, n: number, alloc: (len: number) => Buf): LayerState;
  /** out = the layer on input; `statistics`: layers with statistics set them from this input first. */
  forward(p: LayerPass<S>, theta: Buf, input: Buf, out: Buf, statistics: boolean): void;
  /**
   * VJP at the point of the last forward: grad's entries of this layer from the output cotangent
   * g, and gx = the input's cotangent (null for the first layer). `signals` sees the per-sample
   * signal the NTK is built from (linear layers: g in row layout; BatchNorm: g itself).
   */
  backward(p: LayerPass<S>, theta: Buf, input: Buf, g: Buf, gx: Buf | null, grad: Buf, scratch: Buf[], signals?: (s: Buf) => void): void;
  /** JVP: out = the tangent of the output from the input's tangent t (null: zero) and dtheta. */
  jvp(p: LayerPass<S>, theta: Buf, dtheta: Buf, input: Buf, t: Buf | null, out: Buf, scratch: Buf[]): void;
  /**
   * The point of the last forward is held for many VJPs and JVPs (a linearization): buffers every
   * one of them reuses, through alloc (linear layers: their patch rows packed for both GEMMs), merged
   * into the state; the next forward drops them.
   */
  hold?(p: LayerPass<S>, alloc: (len: number) => Buf): LayerState;
  /** Entries hold() takes for n samples at most (for memory estimates). */
  heldEntries?(l: PlannedLayer<S>, n: number): number;
}

export const volume = (d: Dims) => d.C * d.H * d.W;
