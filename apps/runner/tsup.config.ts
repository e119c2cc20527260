import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { defineConfig } from "tsup"

const executorChild = fileURLToPath(new URL("../../packages/executor/dist/child/", import.meta.url))
const pythonSources = ["../../packages/executor/dist/python/", "../../packages/analyzer/dist/python/"].map((p) =>
  fileURLToPath(new URL(p, import.meta.url))
)

// One runnable file: workspace libraries are bundled in (from their TypeScript sources),
// third-party dependencies stay external. The executor's child scripts are copied next to it
// after every build (also in watch mode).
export default defineConfig({
  entry: { main: "src/main.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  outDir: "dist",
  clean: true,
  sourcemap: true,
  noExternal: [/^@taskrunner\//],
  // Published with a `bin`: npm links it as an executable, so it needs to say what runs it.
  banner: { js: "#!/usr/bin/env node" },
  esbuildOptions(options) {
    options.conditions = ["@taskrunner/source"]
  },
  esbuildPlugins: [{
    name: "copy-executor-child-scripts",
    setup(build) {
      build.onEnd(() => {
        if (!existsSync(executorChild)) throw new Error(`${executorChild} is missing: build @taskrunner/executor first`)
        mkdirSync("dist/child", { recursive: true })
        for (const file of readdirSync(executorChild).filter((f) => f.endsWith(".cjs"))) {
          copyFileSync(`${executorChild}${file}`, `dist/child/${file}`)
        }
        mkdirSync("dist/python", { recursive: true })
        for (const dir of pythonSources) {
          if (!existsSync(dir)) throw new Error(`${dir} is missing: build the executor and the analyzer first`)
          for (const file of readdirSync(dir).filter((f) => f.endsWith(".py"))) {
            copyFileSync(`${dir}${file}`, `dist/python/${file}`)
          }
        }
      })
    }
  }]
})
