/**
 * The chat server on Deno (`npm run start:deno`): parses the command line and environment, reads the
 * page from `web/`, serves the chat app with the Deno mount, and shuts down on SIGINT/SIGTERM.
 * Run it with `--help` for the options.
 *
 * @module
 */
import { serve } from "../adapters/deno.ts";
import { runChatServer } from "./_main.ts";

await runChatServer(serve);
