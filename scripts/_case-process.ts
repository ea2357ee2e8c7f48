/**
 * Benchmark cases in child processes: one process per case (Node, Bun or Deno, whichever runs the
 * benchmark), spoken to by JSON lines over its stdin and stdout. A process of its own makes a
 * case's CPU time exact: `process.cpuUsage()` in a worker thread counts the whole process, so the
 * V8 background threads of every other case's isolate (concurrent marking, sweeping, compiling)
 * land in whichever case is timed while they run. In a process of its own, a case pays for its own
 * garbage and JIT and for nothing else. (Node 20 has no per-thread CPU clock; the issue that asked
 * for these benchmarks measured one parser per process, too.)
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The environment variable that makes a benchmark script serve one case on stdin/stdout. */
export const CASE_ENV = "EDDY_BENCH_CASE";

/** Replies start with this, so that anything else a runtime prints on stdout is told apart. */
const REPLY = "@@bench ";

/** A coordinator's message: `{ load }` builds the case from the group's input, `{ passes }` times them. */
export type CaseMessage = { load: unknown } | { passes: number };

/** A case's answer: the mean cost per pass, or what went wrong. */
export type CaseReply = { ok: true; wall: number; cpu: number } | { ok: false; message: string; correctness: boolean };

/**
 * JSON for a group's input: typed byte arrays (a corpus, ~2 MB) travel as base64, everything else
 * as it is. `reviveInput` undoes it.
 */
export function encodeInput(input: unknown): string {
  return JSON.stringify(input, (_key, value: unknown) =>
    value instanceof Uint8Array
      ? { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") }
      : value,
  );
}

/** The input `encodeInput` wrote, its byte arrays plain `Uint8Array`s again (not `Buffer`s). */
export function reviveInput(json: string): unknown {
  return JSON.parse(json, (_key, value: unknown) => {
    if (typeof value === "object" && value !== null && typeof (value as { $bytes?: unknown }).$bytes === "string") {
      return new Uint8Array(Buffer.from((value as { $bytes: string }).$bytes, "base64"));
    }
    return value;
  });
}

/**
 * Child side: reads one message per stdin line, hands each to `handle` in turn (a pass never
 * overlaps the next message) and writes its reply as one stdout line. Ends when stdin does.
 */
export function serveOverStdio(handle: (message: CaseMessage) => Promise<CaseReply>): void {
  let buffered = "";
  let chain: Promise<void> = Promise.resolve();
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (text: string) => {
    buffered += text;
    let newline = buffered.indexOf("\n");
    while (newline !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf("\n");
      if (line === "") continue;
      chain = chain.then(async () => {
        const reply = await handle(reviveInput(line) as CaseMessage);
        process.stdout.write(`${REPLY}${JSON.stringify(reply)}\n`);
      });
    }
  });
  process.stdin.on("end", () => {
    void chain.then(() => process.exit(0));
  });
}

/**
 * The one reply a case's host waits for at a time (a case answers its messages in turn): `wait`
 * before sending, then `resolve` with the reply or `reject` when the host fails; a second settle
 * or one with nothing waiting does nothing.
 */
export class ReplySlot {
  #pending: { resolve(reply: CaseReply): void; reject(error: unknown): void } | undefined;

  wait(): Promise<CaseReply> {
    return new Promise<CaseReply>((resolve, reject) => (this.#pending = { resolve, reject }));
  }

  resolve(reply: CaseReply): void {
    this.#take()?.resolve(reply);
  }

  reject(error: unknown): void {
    this.#take()?.reject(error);
  }

  /** Forgets what waits (a host being ended answers nothing more). */
  clear(): void {
    this.#pending = undefined;
  }

  #take() {
    const pending = this.#pending;
    this.#pending = undefined;
    return pending;
  }
}

/** Coordinator side of one case's process. */
export class CaseProcess {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  readonly #name: string;
  readonly #reply = new ReplySlot();
  #out = "";
  #ended: string | undefined; // why no message can be sent any more

  /** Starts `bundle` (an ES module) with the runtime that runs this script, serving case `key`. */
  constructor(bundle: URL, key: string, name: string) {
    const file = fileURLToPath(bundle);
    const deno = (process.versions as { deno?: string }).deno !== undefined;
    const args = deno ? ["run", "-A", "--quiet", file] : [file];
    this.#name = name;
    this.#child = spawn(process.execPath, args, {
      env: { ...process.env, [CASE_ENV]: key },
      stdio: ["pipe", "pipe", "inherit"],
    });
    this.#child.stdout!.setEncoding("utf8");
    this.#child.stdout!.on("data", (text: string) => this.#read(text));
    this.#exited = new Promise((resolve) => {
      this.#child.on("exit", (code, signal) => {
        this.#ended ??= `the process for ${name} exited (${signal ?? `code ${code}`})`;
        this.#reply.reject(new Error(this.#ended));
        resolve();
      });
      // A process that could not start fires this instead of "exit".
      this.#child.on("error", (error) => {
        this.#ended ??= `the process for ${name} failed: ${error.message}`;
        this.#reply.reject(error);
        resolve();
      });
    });
    // A child that died mid-write (EPIPE) is reported by its exit, not as an unhandled error.
    this.#child.stdin!.on("error", () => {});
  }

  #read(text: string): void {
    this.#out += text;
    let newline = this.#out.indexOf("\n");
    while (newline !== -1) {
      const line = this.#out.slice(0, newline);
      this.#out = this.#out.slice(newline + 1);
      newline = this.#out.indexOf("\n");
      if (line.startsWith(REPLY)) {
        const reply = JSON.parse(line.slice(REPLY.length)) as CaseReply;
        this.#reply.resolve(reply);
      } else if (line.trim() !== "") {
        process.stderr.write(`${line}\n`); // a runtime's own notice: shown, not parsed
      }
    }
  }

  /** Sends one message and waits for its reply. */
  send(message: CaseMessage): Promise<CaseReply> {
    if (this.#ended !== undefined) return Promise.reject(new Error(this.#ended));
    const reply = this.#reply.wait();
    this.#child.stdin!.write(`${encodeInput(message)}\n`);
    return reply;
  }

  /** Ends the process (its stdin closes; it is killed if it has not exited a second later). */
  async terminate(): Promise<void> {
    this.#reply.clear();
    this.#ended ??= `the process for ${this.#name} was ended`;
    this.#child.stdin!.end();
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 1000);
    await this.#exited;
    clearTimeout(timer);
  }
}
