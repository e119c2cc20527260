import { shared } from "@taskrunner/vitest-config"
import { defineConfig, mergeConfig } from "vitest/config"

// Real brokers, runners and jailed children: generous timeouts, and files one at a time (each
// starts its own processes; in parallel they would measure each other on two cores).
export default mergeConfig(
  shared,
  defineConfig({ test: { testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false } })
)
