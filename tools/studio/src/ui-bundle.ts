import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

/**
 * The browser side of Studio (ui/studio.client.ts with React and @prisma/studio-core's UI and CSS) bundled by
 * esbuild from node_modules: nothing is fetched. Built on the first start and kept in
 * node_modules/.cache/agenthub-studio/<key>/, where the key covers the versions of what goes into it and the
 * page's own sources, so an upgrade or an edit builds it again and everything else starts at once.
 */
export interface UiBundle {
  dir: string;
  /** file name → contents and content type, read once: the bundle is immutable for its key */
  files: ReadonlyMap<string, { body: Buffer; contentType: string }>;
}

const UI_DIR = path.join(__dirname, 'ui');
const ENTRY = path.join(UI_DIR, 'studio.client.ts');
const SOURCES = [ENTRY, path.join(UI_DIR, 'studio-page.css')];
// What goes into the bundle besides our sources; a new version of any of them gives a new key.
const BUNDLED_PACKAGES = ['@prisma/studio-core', 'react', 'react-dom', 'esbuild'];
const DEFAULT_CACHE_ROOT = path.resolve(__dirname, '../../../node_modules/.cache/agenthub-studio');

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export async function ensureUiBundle(
  options: { cacheRoot?: string; log?: (line: string) => void } = {},
): Promise<UiBundle> {
  const cacheRoot = options.cacheRoot ?? DEFAULT_CACHE_ROOT;
  const dir = path.join(cacheRoot, bundleKey());
  if (!fs.existsSync(path.join(dir, 'studio.js'))) {
    const started = Date.now();
    options.log?.('building the Studio UI with esbuild (first start only)');
    // Built beside the final place and renamed into it, so two Studios starting at once never serve half a bundle.
    const tmp = `${dir}.${process.pid}.tmp`;
    fs.rmSync(tmp, { recursive: true, force: true });
    await build({
      entryPoints: { studio: ENTRY },
      outdir: tmp,
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      legalComments: 'none',
      define: { 'process.env.NODE_ENV': '"production"' },
      loader: { '.woff2': 'file', '.woff': 'file', '.ttf': 'file', '.svg': 'file', '.png': 'file' },
      // studio-core reads `import.meta.env` as one of several places for its settings; in a classic script it is
      // empty, which is what we want (it then reads the page's globals, see studio.client.ts).
      logOverride: { 'empty-import-meta': 'silent' },
      logLevel: 'error',
    });
    try {
      fs.renameSync(tmp, dir);
    } catch (error) {
      // Another process finished the same bundle first: use that one.
      if (!fs.existsSync(path.join(dir, 'studio.js'))) throw error;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    options.log?.(`Studio UI built in ${((Date.now() - started) / 1000).toFixed(1)} s (cached in ${dir})`);
  }
  const files = new Map<string, { body: Buffer; contentType: string }>();
  for (const name of fs.readdirSync(dir)) {
    const contentType = CONTENT_TYPES[path.extname(name)];
    if (contentType) files.set(name, { body: fs.readFileSync(path.join(dir, name)), contentType });
  }
  return { dir, files };
}

function bundleKey(): string {
  const hash = createHash('sha256');
  for (const name of BUNDLED_PACKAGES) hash.update(`${name}@${packageVersion(name)}\n`);
  for (const file of SOURCES) hash.update(fs.readFileSync(file));
  return hash.digest('hex').slice(0, 16);
}

/** The installed version; read from the file system because `exports` hides package.json from require. */
function packageVersion(name: string): string {
  for (const base of require.resolve.paths(name) ?? []) {
    const file = path.join(base, name, 'package.json');
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  }
  throw new Error(`${name} is not installed: run npm run setup`);
}
