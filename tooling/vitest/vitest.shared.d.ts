import type { UserConfig } from "vitest/config"

/** Settings every package's `vitest.config.ts` merges its own into. */
export declare const shared: UserConfig
