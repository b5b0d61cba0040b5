// Messages between the demo page and its worker.
export interface DemoRequest { rho: number; filters: number; p: number }
export interface DemoSummary {
  rho: number; weightRelError: number; biasRelError: number; contaminatedWeightRelError: number; contaminatedBiasRelError: number;
  recovered: boolean; iterations: number; seconds: number;
}
export type DemoMessage =
  | { type: "progress"; fraction: number; text: string }
  | { type: "error"; message: string }
  | { type: "result"; summary: DemoSummary; clean: Float64Array; contaminated: Float64Array; recovered: Float64Array };
