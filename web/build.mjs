// Builds the web terminal into gateway/static/ (or the directory given as the first argument):
// index.html copied, src/main.js bundled and minified with everything it imports into app.js, its CSS
// into app.css; and Swagger UI's files (for /docs) into swagger/. The output is byte-for-byte reproducible
// from the same sources and package versions; tests/unit/test_web_bundle.py rebuilds it and compares with
// the committed files.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const SWAGGER_FILES = ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE", "NOTICE"];
const out = resolve(process.argv[2] ?? join(here, "..", "gateway", "static"));

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: join(here, "src", "main.js") },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  legalComments: "eof",
  charset: "utf8",
  outdir: out,
  logLevel: "warning",
});
await copyFile(join(here, "index.html"), join(out, "index.html"));

// Swagger UI for the gateway's /docs, copied as published from the pinned swagger-ui-dist (with its licence)
const swagger = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
await mkdir(join(out, "swagger"));
for (const name of SWAGGER_FILES) {
  await copyFile(join(swagger, name), join(out, "swagger", name));
}
