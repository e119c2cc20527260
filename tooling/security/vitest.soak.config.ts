import { shared } from "@taskrunner/vitest-config"
import { defineConfig, mergeConfig } from "vitest/config"

/** `pnpm test:soak`: the long soak (10 000 tasks by default; SOAK_TASKS sets it). */
const config = mergeConfig(shared, defineConfig({ test: { testTimeout: 4 * 3600_000, hookTimeout: 120_000 } }))
// Only the soak (merging would add it to the shared `test/` pattern instead).
config.test = { ...config.test, include: ["soak/**/*.test.ts"] }
export default config
