import { defineConfig } from "tsup"

// One runnable file: workspace libraries are bundled in (from their TypeScript sources),
// third-party dependencies stay external and come from node_modules.
export default defineConfig({
  entry: { main: "src/main.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  outDir: "dist",
  clean: true,
  sourcemap: true,
  noExternal: [/^@taskrunner\//],
  // The playground page's files, beside the bundle (dist/playground/).
  publicDir: "static",
  // Published with a `bin`: npm links it as an executable, so it needs to say what runs it.
  banner: { js: "#!/usr/bin/env node" },
  esbuildOptions(options) {
    options.conditions = ["@taskrunner/source"]
  }
})
