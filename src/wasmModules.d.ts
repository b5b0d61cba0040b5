// A .wasm import in the workerd/Vercel entry: the runtime hands over a compiled module.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
