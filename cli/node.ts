/**
 * The chat server on Node (`npm start`): parses the command line and environment, reads the
 * page from `web/`, serves the chat app with the Node mount, and shuts down on SIGINT/SIGTERM.
 * Run it with `--help` for the options.
 *
 * @module
 */
import { serve } from "../adapters/node.ts";
import { runChatServer } from "./_main.ts";

await runChatServer(serve);
