/**
 * Private to the fan-out peers: `--host` and `--port` from the command line (the same flags as
 * eddy's chat server), read through `node:process`, which Node, Bun and Deno all provide.
 *
 * @module
 */
import process from "node:process";

/** The listening address of a peer: `--host` (default 127.0.0.1) and `--port` (default 19080). */
export function peerOptions(): { host: string; port: number } {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  return { host: flag("--host") ?? "127.0.0.1", port: Number(flag("--port") ?? 19080) };
}
