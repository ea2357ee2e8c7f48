/**
 * The chat server on Bun (`npm run start:bun`): parses the command line and environment, reads the
 * page from `web/`, serves the chat app with the Bun mount, and shuts down on SIGINT/SIGTERM.
 * Run it with `--help` for the options.
 *
 * @module
 */
import { serve } from "../adapters/bun.ts";
import { runChatServer } from "./_main.ts";

await runChatServer(serve);
