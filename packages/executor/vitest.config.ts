import { shared } from "@taskrunner/vitest-config"
import { defineConfig, mergeConfig } from "vitest/config"

export default mergeConfig(shared, defineConfig({}))
