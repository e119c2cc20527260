import { defaultServerConditions } from "vite"
import { defineConfig } from "vitest/config"

// Workspace packages export their TypeScript sources under this condition, so tests (like the
// type checker) run against `src/` without a prior build. Plain JS: vitest loads configs with node.
const conditions = ["@taskrunner/source", ...defaultServerConditions]

/** Settings every package's `vitest.config.ts` merges its own into. */
export const shared = defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    teardownTimeout: 10_000
  }
})
