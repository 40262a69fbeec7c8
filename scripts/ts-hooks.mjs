/**
 * Node module hooks that let `node --import ./scripts/register-ts.mjs file.ts` run the
 * project's TypeScript directly (benchmarks, asset scripts) without a build step or an
 * extra dependency: each .ts file is transpiled in memory with the TypeScript compiler
 * we already depend on (types are not checked here; `npm run typecheck` does that).
 * Relative imports written as `./x.js` (NodeNext style) resolve to `./x.ts` when only
 * the TypeScript source exists.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export async function resolve(specifier, context, nextResolve) {
  const isRelative = specifier.startsWith('./') || specifier.startsWith('../');
  if (isRelative && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const tsUrl = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
    const jsUrl = new URL(specifier, context.parentURL);
    if (!existsSync(fileURLToPath(jsUrl)) && existsSync(fileURLToPath(tsUrl))) {
      return nextResolve(tsUrl.href, context);
    }
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const source = await readFile(fileURLToPath(url), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: fileURLToPath(url),
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2023,
      sourceMap: false,
      inlineSourceMap: true,
      verbatimModuleSyntax: true,
    },
  });
  return { format: 'module', source: outputText, shortCircuit: true };
}
