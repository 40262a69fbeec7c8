/**
 * Serves a page that Vite built (src/web/vite.config.ts writes dist/web/pages/): reads the
 * build manifest, loads the files one page needs (its HTML, scripts, styles, fonts/images) into
 * memory and answers exactly those paths. Nothing else on disk is reachable, so there is no
 * path to traverse. Used by the cloud dashboard and the peer app.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { packagePath } from '../util/package-info.js';

/** Where `npm run build` puts the pages. */
export const BUILT_PAGES_DIR = packagePath('dist', 'web', 'pages');

/** Limits on what a page may pull in, so a broken build cannot eat the server's memory. */
const MAX_PAGE_FILES = 200;
const MAX_PAGE_BYTES = 8 * 1024 * 1024;
/** Vite names assets `assets/<name>-<hash>.<ext>`; anything else in a manifest is refused. */
const ASSET_PATH = /^assets\/[A-Za-z0-9_.-]+\.[a-z0-9]+$/;

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  webp: 'image/webp',
  woff2: 'font/woff2',
  json: 'application/json; charset=utf-8',
  map: 'application/json; charset=utf-8',
};

export interface StaticFile {
  /** URL path, e.g. "/assets/dashboard-3f2a.js". */
  url_path: string;
  content_type: string;
  cache_control: string;
  etag: string;
  /** More response headers (the HTML's content security policy). */
  extra_headers: Record<string, string>;
  body: Buffer;
}

/**
 * The pages load nothing from elsewhere (no CDN: they must work offline), so the policy
 * allows only this origin; links to other servers' dashboards are plain navigation.
 */
const PAGE_SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

export interface BuiltPage {
  name: string;
  html: StaticFile;
  /** Scripts, styles and other files the HTML refers to. */
  assets: StaticFile[];
}

export class PageNotBuiltError extends Error {}

interface ManifestChunk {
  file: string;
  css?: string[];
  assets?: string[];
  imports?: string[];
}

/**
 * Loads page `name` (its source is src/web/pages/<name>/index.html). Throws
 * {@link PageNotBuiltError} with what to run when the build is missing or broken.
 */
export function loadBuiltPage(name: string, dir: string = BUILT_PAGES_DIR): BuiltPage {
  if (!/^[a-z][a-z0-9-]*$/.test(name))
    throw new RangeError(`bad page name ${JSON.stringify(name)}`);
  const manifestPath = join(dir, '.vite', 'manifest.json');
  const htmlPath = join(dir, name, 'index.html');
  if (!existsSync(manifestPath) || !existsSync(htmlPath))
    throw new PageNotBuiltError(
      `the ${name} page is not built (no ${htmlPath}); run \`npm run build\``,
    );
  const manifest = readManifest(manifestPath);
  const entryKey = `${name}/index.html`;
  if (!manifest[entryKey])
    throw new PageNotBuiltError(`${manifestPath} has no entry ${entryKey}; run \`npm run build\``);

  const files = new Set<string>();
  const visit = (key: string): void => {
    const chunk = manifest[key];
    if (!chunk) throw new PageNotBuiltError(`${manifestPath}: missing chunk ${key}`);
    for (const file of [chunk.file, ...(chunk.css ?? []), ...(chunk.assets ?? [])]) {
      if (!ASSET_PATH.test(file))
        throw new PageNotBuiltError(`${manifestPath}: refusing asset path ${JSON.stringify(file)}`);
      files.add(file);
    }
    for (const imported of chunk.imports ?? []) visit(imported);
  };
  visit(entryKey);
  if (files.size > MAX_PAGE_FILES)
    throw new PageNotBuiltError(`the ${name} page needs ${files.size} files (> ${MAX_PAGE_FILES})`);

  let total_bytes = 0;
  const load = (
    path: string,
    url_path: string,
    cache_control: string,
    extra_headers: Record<string, string> = {},
  ): StaticFile => {
    const size = statSync(path).size;
    total_bytes += size;
    if (total_bytes > MAX_PAGE_BYTES)
      throw new PageNotBuiltError(`the ${name} page is larger than ${MAX_PAGE_BYTES} bytes`);
    const body = readFileSync(path);
    const ext = path.slice(path.lastIndexOf('.') + 1);
    return {
      url_path,
      content_type: CONTENT_TYPES[ext] ?? 'application/octet-stream',
      cache_control,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      extra_headers,
      body,
    };
  };
  // File names carry a content hash, so browsers may keep them; the HTML must be rechecked.
  const assets = [...files].map((file) =>
    load(join(dir, file), `/${file}`, 'public, max-age=31536000, immutable'),
  );
  const html = load(htmlPath, '/', 'no-cache', PAGE_SECURITY_HEADERS);
  return { name, html, assets };
}

function readManifest(path: string): Record<string, ManifestChunk> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new PageNotBuiltError(`cannot read ${path}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new PageNotBuiltError(`${path} is not a Vite manifest (expected an object)`);
  for (const [key, chunk] of Object.entries(parsed)) {
    const c = chunk as Partial<ManifestChunk> | null;
    const stringList = (v: unknown): boolean =>
      v === undefined || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
    if (
      typeof c !== 'object' ||
      c === null ||
      typeof c.file !== 'string' ||
      !stringList(c.css) ||
      !stringList(c.assets) ||
      !stringList(c.imports)
    )
      throw new PageNotBuiltError(`${path}: entry ${JSON.stringify(key)} is malformed`);
  }
  return parsed as Record<string, ManifestChunk>;
}

/** Answers GET/HEAD for one loaded file, with ETag revalidation. */
export function sendStaticFile(req: IncomingMessage, res: ServerResponse, file: StaticFile): void {
  const headers = {
    'content-type': file.content_type,
    'cache-control': file.cache_control,
    etag: file.etag,
    'x-content-type-options': 'nosniff',
    ...file.extra_headers,
  };
  if (req.headers['if-none-match'] === file.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': String(file.body.length) });
  res.end(req.method === 'HEAD' ? undefined : file.body);
}
