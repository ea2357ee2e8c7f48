/**
 * Runtime neutrality of core/ (core/chat/ included): no Node, Deno or Bun globals or modules, and
 * no import that leaves core/. The check reads each file's syntax tree, so comments and ordinary
 * string contents may mention these names freely.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { expect, test } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const core = join(root, "core");

/** Runtime-specific globals core/ must not touch. */
const FORBIDDEN_GLOBALS = new Set(["process", "Deno", "Bun", "Buffer", "require", "__dirname", "__filename"]);
/** Names too common to refuse outright: flagged only as `process.x`, `process[x]`, `require(x)`. */
const FORBIDDEN_AS_OBJECT_OR_CALL = new Set(["process", "require"]);

/** Every .ts file under `dir`, recursively. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.isFile() && /\.(?:ts|mts|cts|tsx)$/.test(entry.name) ? [path] : [];
  });
}

/** Whether `node` is a name in a position where it cannot be a global: `x.name`, `{ name: v }`, a member. */
function isMemberName(node: ts.Identifier): boolean {
  const parent = node.parent;
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) return true;
  if (ts.isQualifiedName(parent) && parent.right === node) return true;
  if (
    (ts.isPropertyAssignment(parent) ||
      ts.isPropertyDeclaration(parent) ||
      ts.isPropertySignature(parent) ||
      ts.isMethodDeclaration(parent) ||
      ts.isMethodSignature(parent) ||
      ts.isGetAccessor(parent) ||
      ts.isSetAccessor(parent) ||
      ts.isEnumMember(parent)) &&
    parent.name === node
  )
    return true;
  return false;
}

/** Whether `node` is used as `process.x` / `process[x]`, or as `require(x)`. */
function isObjectOrCallee(node: ts.Identifier): boolean {
  const parent = node.parent;
  if (node.text === "require") return ts.isCallExpression(parent) && parent.expression === node;
  return (ts.isPropertyAccessExpression(parent) || ts.isElementAccessExpression(parent)) && parent.expression === node;
}

/** Whether `node` is the specifier of an import or export, which `violations` checks as such. */
function isModuleSpecifier(node: ts.Node): boolean {
  const parent = node.parent;
  return (
    ts.isImportDeclaration(parent) ||
    ts.isExportDeclaration(parent) ||
    ts.isExternalModuleReference(parent) ||
    ts.isLiteralTypeNode(parent) ||
    (ts.isCallExpression(parent) && parent.expression.kind === ts.SyntaxKind.ImportKeyword)
  );
}

/**
 * The boundary violations in one source file, as `line: what` strings. `file` is the file's
 * absolute path (relative imports are resolved against it); `boundary` the folder it must stay in.
 */
function violations(file: string, text: string, boundary: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const report = (node: ts.Node, what: string): void => {
    const { line } = source.getLineAndCharacterOfPosition(node.getStart(source));
    found.push(`${relative(root, file)}:${line + 1}: ${what}`);
  };
  const checkSpecifier = (node: ts.Node, specifier: string): void => {
    if (specifier.startsWith("node:")) return report(node, `imports the Node module "${specifier}"`);
    if (!specifier.startsWith(".")) return report(node, `imports the package "${specifier}" from outside core/`);
    const target = resolve(dirname(file), specifier);
    if (target !== boundary && !target.startsWith(boundary + sep))
      report(node, `imports "${specifier}", outside core/`);
  };
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      checkSpecifier(node, node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const expression = node.moduleReference.expression;
      report(node, `uses require-style import of ${expression.getText(source)}`);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      if (argument !== undefined && ts.isStringLiteralLike(argument)) checkSpecifier(node, argument.text);
      else report(node, "imports a computed module specifier");
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      checkSpecifier(node, node.argument.literal.text);
    } else if (
      ts.isIdentifier(node) &&
      FORBIDDEN_GLOBALS.has(node.text) &&
      !isMemberName(node) &&
      (!FORBIDDEN_AS_OBJECT_OR_CALL.has(node.text) || isObjectOrCallee(node))
    ) {
      report(node, `references the runtime global "${node.text}"`);
    } else if (
      ts.isElementAccessExpression(node) &&
      ts.isStringLiteralLike(node.argumentExpression) &&
      FORBIDDEN_GLOBALS.has(node.argumentExpression.text)
    ) {
      report(node, `references the runtime global "${node.argumentExpression.text}" by name`);
    } else if (ts.isStringLiteralLike(node) && node.text.startsWith("node:") && !isModuleSpecifier(node)) {
      report(node, `names the Node module "${node.text}"`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

test("core/ uses no Node, Deno or Bun API and imports nothing outside core/", () => {
  const files = sourceFiles(core);
  expect(files.length).toBeGreaterThan(5);
  const found = files.flatMap((file) => violations(file, readFileSync(file, "utf8"), core));
  expect(found).toEqual([]);
});

test("core/chat/ is checked too when it exists", () => {
  const files = sourceFiles(core).map((file) => relative(core, file));
  const chat = files.filter((file) => file.startsWith(`chat${sep}`));
  let hasChat = false;
  try {
    hasChat = readdirSync(join(core, "chat")).some((name) => name.endsWith(".ts"));
  } catch {
    // Not written yet.
  }
  expect(chat.length > 0).toBe(hasChat);
});

test("violations flags each runtime API and escaping import, and ignores comments and strings", () => {
  const file = join(core, "chat", "example.ts");
  const bad = [
    'import { readFile } from "node:fs/promises";',
    'import type { Server } from "node:http";',
    'import { x } from "../../adapters/node.ts";',
    'export { y } from "../../web/chat.js";',
    'import hono from "hono";',
    'const fs = await import("node:fs");',
    'type T = import("../../test/_harness.ts").Observed;',
    "const env = process.env.PORT;",
    'const argv = process["argv"];',
    'const port = Deno.env.get("PORT");',
    "const server = Bun.serve({ fetch });",
    'const bytes = Buffer.from("x");',
    'const mod = require("x");',
    'const g = globalThis["process"];',
    'import fs = require("fs");',
  ];
  const found = violations(file, bad.join("\n"), core);
  expect(found.map((line) => Number(line.split(":")[1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  const fine = [
    "// process.env, Deno.serve(), Bun.serve(), Buffer.from() and require() are fine in comments;",
    '/* import x from "node:fs" too */',
    'import { encodeEvent } from "../encode.ts";',
    'import type { Hub } from "./hub.ts";',
    'const message = "the server could not process. Try Deno. or Bun. later";',
    "const options = { process: 1, Buffer: 2 };",
    "const value = options.process + options.Buffer;",
    "class Job { process(): void {} }",
    "function process(line: string): string { return line; }",
    'const result = process("x");',
  ];
  expect(violations(file, fine.join("\n"), core)).toEqual([]);
});

test("tsconfig.core.json compiles core/ with no ambient runtime types", () => {
  const config = JSON.parse(readFileSync(join(root, "tsconfig.core.json"), "utf8")) as {
    compilerOptions: { types?: unknown; lib?: string[] };
    include?: string[];
  };
  expect(config.compilerOptions.types).toEqual([]);
  expect(config.include).toContain("core");
  expect(config.compilerOptions.lib?.some((lib) => /^webworker|^node/i.test(lib))).toBe(false);
});

// The layout's dependency rules (docs/ARCHITECTURE.md): each folder may import only what is
// listed for it; public entries are core/mod.ts, core/chat/mod.ts, adapters/{node,bun,deno}.ts and
// redis/mod.ts.

/** Every import or export specifier of a file, with its line, relative ones resolved to absolute paths. */
function importsOf(file: string, text: string): { line: number; specifier: string; target?: string }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: { line: number; specifier: string; target?: string }[] = [];
  const add = (node: ts.Node, specifier: string): void => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    found.push(
      specifier.startsWith(".") ? { line, specifier, target: resolve(dirname(file), specifier) } : { line, specifier },
    );
  };
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node, node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      add(node, argument !== undefined && ts.isStringLiteralLike(argument) ? argument.text : "<computed>");
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      add(node, node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const PUBLIC_ENTRIES = [
  "core/mod.ts",
  "core/chat/mod.ts",
  "adapters/node.ts",
  "adapters/bun.ts",
  "adapters/deno.ts",
  "redis/mod.ts",
].map((path) => join(root, path));
const inside = (path: string, folder: string): boolean => path.startsWith(join(root, folder) + sep);

type Allowed = (target: string) => boolean;

/** The imports of one file that break a rule: `allowed` for relative imports (absolute path), `packages` for the rest. */
function ruleViolations(file: string, text: string, allowed: Allowed, packages: Allowed): string[] {
  return importsOf(file, text)
    .filter(({ specifier, target }) => (target === undefined ? !packages(specifier) : !allowed(target)))
    .map(({ line, specifier }) => `${relative(root, file)}:${line}: imports "${specifier}"`);
}

/** {@link ruleViolations} of every file in `folder`. */
function brokenImports(folder: string, allowed: Allowed, packages: Allowed): string[] {
  return sourceFiles(join(root, folder)).flatMap((file) =>
    ruleViolations(file, readFileSync(file, "utf8"), allowed, packages),
  );
}

test("the SSE core (core/*.ts) imports nothing outside itself, not even the chat app", () => {
  const sse = (target: string) => inside(target, "core") && !inside(target, join("core", "chat"));
  const broken = sourceFiles(core)
    .filter((file) => !inside(file, join("core", "chat")))
    .flatMap((file) =>
      importsOf(file, readFileSync(file, "utf8"))
        .filter(({ target }) => target === undefined || !sse(target))
        .map(({ line, specifier }) => `${relative(root, file)}:${line}: imports "${specifier}"`),
    );
  expect(broken).toEqual([]);
});

test("the chat app (core/chat/) imports only the SSE core's public entry and its own files", () => {
  const broken = brokenImports(
    join("core", "chat"),
    (target) => target === join(root, "core/mod.ts") || inside(target, join("core", "chat")),
    () => false,
  );
  expect(broken).toEqual([]);
});

test("the mounts (adapters/) import only the SSE core's public entry, their own files and node: modules", () => {
  const broken = brokenImports(
    "adapters",
    (target) => target === join(root, "core/mod.ts") || inside(target, "adapters"),
    (specifier) => /^node:(http|net|stream)$/.test(specifier),
  );
  expect(broken).toEqual([]);
});

test("the Redis connection (redis/) imports only the chat app's public entry, its own files and the Redis client", () => {
  const broken = brokenImports(
    "redis",
    (target) => target === join(root, "core/chat/mod.ts") || inside(target, "redis"),
    (specifier) => specifier === "@redis/client",
  );
  expect(broken).toEqual([]);
});

test("the program (cli/) imports only public entries, its own files and node: modules", () => {
  const broken = brokenImports(
    "cli",
    (target) => PUBLIC_ENTRIES.includes(target) || inside(target, "cli"),
    (specifier) => specifier.startsWith("node:"),
  );
  expect(broken).toEqual([]);
});

test("only the program touches the process, files or the environment", () => {
  const found: string[] = [];
  for (const folder of ["core", "adapters", "redis"]) {
    for (const file of sourceFiles(join(root, folder))) {
      const text = readFileSync(file, "utf8");
      for (const { line, specifier } of importsOf(file, text)) {
        if (/^node:(fs|fs\/promises|process|child_process|os|path|url|worker_threads)$/.test(specifier))
          found.push(`${relative(root, file)}:${line}: imports "${specifier}"`);
      }
      const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
      const visit = (node: ts.Node): void => {
        const line = () => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
        if (ts.isIdentifier(node) && node.text === "process" && !isMemberName(node))
          found.push(`${relative(root, file)}:${line()}: uses "process"`);
        if (
          ts.isPropertyAccessExpression(node) &&
          node.name.text === "env" &&
          ts.isIdentifier(node.expression) &&
          /^(Deno|Bun)$/.test(node.expression.text)
        ) {
          found.push(`${relative(root, file)}:${line()}: reads ${node.expression.text}.env`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
  }
  expect(found).toEqual([]);
});

test("the mounts and the Redis connection are libraries: no top-level statement runs anything on import", () => {
  const found: string[] = [];
  for (const file of ["adapters", "redis"].flatMap((folder) => sourceFiles(join(root, folder)))) {
    const source = ts.createSourceFile(
      file,
      readFileSync(file, "utf8"),
      ts.ScriptTarget.Latest,
      true,
      ts.ScriptKind.TS,
    );
    for (const statement of source.statements) {
      const runs =
        ts.isExpressionStatement(statement) ||
        ts.isIfStatement(statement) ||
        ts.isForStatement(statement) ||
        ts.isForOfStatement(statement) ||
        ts.isTryStatement(statement) ||
        ts.isBlock(statement);
      if (runs)
        found.push(
          `${relative(root, file)}:${source.getLineAndCharacterOfPosition(statement.getStart(source)).line + 1}`,
        );
    }
  }
  expect(found).toEqual([]);
});

test("the bundled Node mount holds no trace of the program", async () => {
  const { build } = await import("esbuild");
  const result = await build({
    absWorkingDir: root,
    entryPoints: ["adapters/node.ts"],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    external: ["node:*"],
    logLevel: "silent",
  });
  const code = result.outputFiles[0]?.text ?? "";
  expect(code).toContain("createServer");
  for (const trace of ["runChatServer", "parseArgs", "readFileSync", "createChatApp", "import("])
    expect(code).not.toContain(trace);
});

test("ruleViolations reports each import its rule refuses, and only those", () => {
  // The rules above prove something only if a wrong import is caught: plant some in a mount.
  const file = join(root, "adapters", "planted.ts");
  const text = [
    'import { createChatApp } from "../core/chat/mod.ts";',
    'import { readFileSync } from "node:fs";',
    'import { encodeEvent } from "../core/encode.ts";',
    'import { serverErrorResponse } from "../core/mod.ts";',
    'import { toWebRequest } from "./_node-request.ts";',
    'import type { Server } from "node:http";',
    'const cli = await import("../cli/_main.ts");',
  ].join("\n");
  const allowed = (target: string) => target === join(root, "core/mod.ts") || inside(target, "adapters");
  const found = ruleViolations(file, text, allowed, (specifier) => specifier === "node:http");
  expect(found.map((line) => Number(line.split(":")[1]))).toEqual([1, 2, 3, 7]);
});

test("docs/ARCHITECTURE.md names every source file of core/, core/chat/, adapters/, redis/ and cli/, and only files that exist", () => {
  const doc = readFileSync(join(root, "docs/ARCHITECTURE.md"), "utf8");
  const tree = doc.slice(doc.indexOf("```\n") + 4, doc.indexOf("\n```", doc.indexOf("```\n") + 4));
  // Each top-level line "folder/ ..." opens a folder; the indented lines below it name its files.
  const named = new Set<string>();
  let folder = "";
  for (const line of tree.split("\n")) {
    const top = /^(\S+\/)\s/.exec(line);
    if (top !== null) folder = top[1] as string;
    const names = top !== null ? [] : (line.trim().split(/\s{2,}/)[0] ?? "").split(/,\s*/);
    for (const name of names) if (/^[\w.-]+\.ts$/.test(name)) named.add(folder + name);
    // "the in-memory Hub; _ring.ts (history), ..." names private files in the description too.
    for (const match of line.matchAll(/(?:^|[\s;(])(_[\w-]+\.ts)/g)) named.add(folder + match[1]);
  }
  const actual = ["core", "core/chat", "adapters", "redis", "cli"].flatMap((dir) =>
    readdirSync(join(root, dir))
      .filter((name) => name.endsWith(".ts"))
      .map((name) => `${dir}/${name}`),
  );
  expect(actual.filter((file) => !named.has(file))).toEqual([]);
  expect([...named].filter((file) => !actual.includes(file))).toEqual([]);
});
