import { shared } from "@taskrunner/vitest-config"
import { defineConfig } from "vitest/config"

// The compatibility suite: our runner and n8n's official runner (installed by tooling/compat) answering the same snippets.
// Spread rather than mergeConfig: mergeConfig would append to `include` instead of replacing it.
export default defineConfig({
  ...shared,
  test: { ...shared.test, include: ["test-compat/**/*.test.ts"], testTimeout: 60_000, fileParallelism: false }
})
