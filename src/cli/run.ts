// cnn-purify's command dispatcher: `cnn-purify <command> [options]`. Exit codes: 0 success, 1 a
// failure while running, 2 bad usage (unknown command or option, bad value), 3 a bad input file;
// check adds 4 (changed) and 5 (undetermined).
import { CnnPurifyError, OptionError } from "../errors.js";
import { helpText, parse } from "./args.js";
import type { Command } from "./commands.js";
import { demo, phase, synthetic } from "./commands.js";
import { InputFileError } from "./files.js";
import { purifyCommand } from "./purifyCommand.js";
import { VerdictExit, checkCommand } from "./checkCommand.js";
import { checkCalibrateCommand } from "./checkCalibrateCommand.js";
import { detection } from "./detectionCommand.js";
import { deep, realData } from "./realDataCommand.js";

const commands: Record<string, Command> = { demo, synthetic, phase, mnist: realData, deep, purify: purifyCommand, check: checkCommand, "check-calibrate": checkCalibrateCommand, detection };

function usage(): string {
  return "usage: cnn-purify <command> [options]\n\ncommands:\n" +
    Object.entries(commands).map(([k, c]) => `  ${k.padEnd(15)} ${c.summary}`).join("\n") +
    "\n\n`cnn-purify <command> --help` lists a command's options.\n";
}

export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + "\n")): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") { out(usage()); return 0; }
  const cmd = commands[name];
  try {
    if (!cmd) throw new OptionError(`unknown command "${name}" (known: ${Object.keys(commands).join(", ")})`);
    const v = parse(name, rest, cmd.spec);
    if (v.help) out(helpText(name, cmd.summary, cmd.spec) + (cmd.helpNote ?? ""));
    else await cmd.run(v, out);
    return 0;
  } catch (e) {
    if (e instanceof VerdictExit) return e.code;
    const code = e instanceof OptionError ? 2 : e instanceof InputFileError ? 3 : 1;
    // a bad option found past the command's own parsing (by the library) is named with the command too
    const message = e instanceof OptionError && !e.message.startsWith(`${name}:`) ? `${name}: ${e.message}` : e instanceof CnnPurifyError ? e.message : (e as Error).stack ?? e;
    process.stderr.write(`cnn-purify: ${message}\n`);
    return code;
  }
}

