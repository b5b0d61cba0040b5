// A restricted unpickler for the data.pkl of a torch.save'd state_dict: it understands exactly
// what torch.save writes for a dict of tensors (OrderedDict, _rebuild_tensor_v2 or
// _rebuild_parameter over a storage persistent id, the _metadata attribute) and refuses every other
// global by name. Nothing is ever executed: the few allowed callables are interpreted here, as data.
import { ValueError } from "../errors.js";

/** A tensor as data.pkl describes it: a view of a storage blob. */
export interface PickledTensor {
  /** Storage key: the blob is "<archive>/data/<key>". */
  key: string;
  /** Storage class name, e.g. "FloatStorage". */
  storage: string;
  offset: number;
  shape: number[];
  stride: number[];
}

const STORAGES = new Set(["FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "IntStorage",
  "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage"]);

/** The only globals data.pkl may name (module.name). */
const ALLOWED = new Set(["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
  ...[...STORAGES].map((s) => "torch." + s)]);

class Global { constructor(readonly name: string) {} }
class Mark {}
class Dict { readonly entries = new Map<unknown, unknown>(); }
class Persistent { constructor(readonly id: unknown[]) {} }

/** Name -> tensor of a state_dict pickle, in the pickle's order. Throws ValueError naming what is refused. */
export function unpickleStateDict(bytes: Uint8Array, where: string): Map<string, PickledTensor> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  const fail = (msg: string): never => { throw new ValueError(`${where}: data.pkl ${msg}`); };
  const need = (n: number) => { if (pos + n > bytes.length) fail("is truncated"); };
  const u8 = () => { need(1); return bytes[pos++]; };
  const u16 = () => { need(2); const v = dv.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const text = (n: number) => { need(n); const s = new TextDecoder().decode(bytes.subarray(pos, pos + n)); pos += n; return s; };
  const line = () => { const end = bytes.indexOf(10, pos); if (end < 0) fail("is truncated"); const s = text(end - pos); pos++; return s; };
  const pop = () => { if (!stack.length) fail("is malformed (stack underflow)"); return stack.pop(); };
  const popMark = () => {
    const items: unknown[] = [];
    for (;;) {
      const x = pop();
      if (x instanceof Mark) return items.reverse();
      items.push(x);
    }
  };
  const global = (name: string) => {
    if (!ALLOWED.has(name)) fail(`names ${name}, which is not part of a state_dict of tensors: refused (nothing was executed)`);
    return new Global(name);
  };
  const int = (x: unknown, what: string) => (typeof x === "number" && Number.isSafeInteger(x) ? x : fail(`has a malformed ${what}`));
  const tensorOf = (args: unknown[]): PickledTensor => {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof Persistent)) return fail("rebuilds a tensor from something other than a storage");
    const [kind, cls, key] = storage.id;
    if (kind !== "storage" || !(cls instanceof Global) || typeof key !== "string") return fail("has a storage reference torch.save does not write");
    if (!Array.isArray(size) || !Array.isArray(stride)) return fail("has a tensor without size and stride");
    return { key, storage: cls.name.slice("torch.".length), offset: int(offset, "storage offset"), shape: size.map((d) => int(d, "size")), stride: stride.map((d) => int(d, "stride")) };
  };
  const call = (f: unknown, args: unknown): unknown => {
    if (!(f instanceof Global) || !Array.isArray(args)) return fail("calls something that is not an allowed global");
    switch (f.name) {
      case "collections.OrderedDict":
        if (args.length) fail("builds an OrderedDict from arguments");
        return new Dict();
      case "torch._utils._rebuild_tensor_v2": return tensorOf(args);
      case "torch._utils._rebuild_parameter":
        if (!args.length || typeof args[0] !== "object" || args[0] === null || !("key" in (args[0] as object))) fail("rebuilds a parameter from something other than a tensor");
        return args[0];
      default: return fail(`calls ${f.name}: refused (nothing was executed)`);
    }
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: need(8); pos += 8; break; // FRAME
      case 0x2e: { // STOP
        const top = pop();
        if (!(top instanceof Dict)) return fail("does not hold a dict of tensors (a whole module was saved? save model.state_dict())");
        const out = new Map<string, PickledTensor>();
        for (const [k, v] of top.entries) {
          if (typeof k !== "string") fail("has a key that is not a string");
          if (!v || typeof v !== "object" || !("key" in v)) fail(`entry "${String(k)}" is not a tensor`);
          out.set(k as string, v as PickledTensor);
        }
        return out;
      }
      case 0x28: stack.push(new Mark()); break; // MARK
      case 0x63: { const mod = line(), name = line(); stack.push(global(`${mod}.${name}`)); break; } // GLOBAL
      case 0x93: { const name = pop(), mod = pop(); stack.push(global(`${String(mod)}.${String(name)}`)); break; } // STACK_GLOBAL
      case 0x71: memo.set(u8(), stack[stack.length - 1]); break; // BINPUT
      case 0x72: memo.set(u32(), stack[stack.length - 1]); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, stack[stack.length - 1]); break; // MEMOIZE
      case 0x68: { const k = u8(); if (!memo.has(k)) fail("is malformed (unknown memo)"); stack.push(memo.get(k)); break; } // BINGET
      case 0x6a: { const k = u32(); if (!memo.has(k)) fail("is malformed (unknown memo)"); stack.push(memo.get(k)); break; } // LONG_BINGET
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: { need(4); stack.push(dv.getInt32(pos, true)); pos += 4; break; } // BININT
      case 0x8a: { // LONG1
        const n = u8(); need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i]);
        if (n && bytes[pos + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        pos += n;
        stack.push(Number(v));
        break;
      }
      case 0x47: { need(8); stack.push(dv.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4e: stack.push(null); break; // NONE
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x61: { const x = pop(); const l = stack[stack.length - 1]; if (!Array.isArray(l)) fail("appends to a non-list"); (l as unknown[]).push(x); break; } // APPEND
      case 0x65: { const xs = popMark(); const l = stack[stack.length - 1]; if (!Array.isArray(l)) fail("appends to a non-list"); (l as unknown[]).push(...xs); break; } // APPENDS
      case 0x7d: stack.push(new Dict()); break; // EMPTY_DICT
      case 0x73: { const v = pop(), k = pop(); const d = stack[stack.length - 1]; if (!(d instanceof Dict)) fail("sets an item on a non-dict"); (d as Dict).entries.set(k, v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const xs = popMark();
        const d = stack[stack.length - 1];
        if (!(d instanceof Dict) || xs.length % 2) fail("sets items on a non-dict");
        for (let i = 0; i < xs.length; i += 2) (d as Dict).entries.set(xs[i], xs[i + 1]);
        break;
      }
      case 0x51: stack.push(new Persistent(((x) => (Array.isArray(x) ? x : fail("has a malformed persistent id")))(pop()) as unknown[])); break; // BINPERSID
      case 0x52: { const args = pop(), f = pop(); stack.push(call(f, args)); break; } // REDUCE
      case 0x62: { // BUILD: the state_dict's _metadata attribute (module versions) is kept aside, unused
        const state = pop();
        if (!(stack[stack.length - 1] instanceof Dict) || !(state instanceof Dict)) fail("sets state on something other than the state_dict");
        break;
      }
      default:
        fail(`uses pickle opcode 0x${op.toString(16)}, which torch.save does not write for a state_dict: refused (nothing was executed)`);
    }
  }
}
