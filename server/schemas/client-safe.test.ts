/**
 * The schema modules stay safe for the browser: each imports only zod and its
 * siblings, and what the client components load of server/ is only these
 * modules (type-only imports are erased by the compiler and do not count).
 * Otherwise a form would pull the database client or the environment check
 * into the browser bundle, or the rules would drift back into copies.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SCHEMAS = path.join(ROOT, "server/schemas");

/** The specifiers of the imports and re-exports of `file` that survive compilation. */
function valueImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const specifiers: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const onlyTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((element) => element.isTypeOnly)));
      if (!onlyTypes) specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && !node.isTypeOnly) {
      specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments;
      if (argument && ts.isStringLiteral(argument)) specifiers.push(argument.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers;
}

/** The project file a specifier names, or null for a package or a node: built-in. */
function resolve(from: string, specifier: string): string | null {
  let base: string;
  if (specifier.startsWith("@/")) base = path.join(ROOT, specifier.slice(2));
  else if (specifier.startsWith(".")) base = path.resolve(path.dirname(from), specifier);
  else return null;
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, path.join(base, "index.ts")]) {
    if (existsSync(candidate) && candidate.match(/\.tsx?$/)) return candidate;
  }
  throw new Error(`${path.relative(ROOT, from)}: cannot resolve ${specifier}`);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

describe("server/schemas", () => {
  const schemas = sourceFiles(SCHEMAS);

  it("has modules to check", () => {
    expect(schemas.map((file) => path.basename(file)).sort()).toEqual(expect.arrayContaining(["tenant.ts", "user.ts"]));
  });

  for (const file of schemas) {
    const name = path.relative(ROOT, file);

    it(`${name} imports only zod and other schema modules`, () => {
      const outside = valueImports(file).filter((specifier) => {
        const target = resolve(file, specifier);
        return target === null ? specifier !== "zod" : path.dirname(target) !== SCHEMAS;
      });
      expect(outside).toEqual([]);
    });

    it(`${name} says in its header that it is client-safe`, () => {
      expect(readFileSync(file, "utf8")).toMatch(/^\/\*\*[\s\S]*?Client-safe[\s\S]*?\*\//);
    });
  }
});

describe("client components", () => {
  it("load nothing of server/ but server/schemas", () => {
    const clientEntries = [...sourceFiles(path.join(ROOT, "components")), ...sourceFiles(path.join(ROOT, "app"))].filter((file) =>
      /^\s*["']use client["']/.test(readFileSync(file, "utf8")),
    );
    expect(clientEntries.length).toBeGreaterThan(0);

    const seen = new Set<string>();
    const serverModules = new Set<string>();
    const queue = [...clientEntries];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      if (file.startsWith(path.join(ROOT, "server") + path.sep)) serverModules.add(path.relative(ROOT, file));
      for (const specifier of valueImports(file)) {
        const target = resolve(file, specifier);
        if (target) queue.push(target);
      }
    }
    expect([...serverModules].filter((file) => !file.startsWith(`server${path.sep}schemas${path.sep}`))).toEqual([]);
    // The forms do read the schemas: the check above is not passing for want of any server import.
    expect([...serverModules]).toEqual(expect.arrayContaining([path.join("server", "schemas", "tenant.ts"), path.join("server", "schemas", "user.ts")]));
  });
});
