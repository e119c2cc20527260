import { afterAll, describe, it } from "@effect/vitest"
import { cleanup } from "./harness.js"
import { assertHealthy, soak } from "./soak.js"

/**
 * A short soak in every run (the long one, 10 000 tasks, is `pnpm test:soak`): nothing leaks
 * between the 100th and the 600th task. Memory is only checked loosely here (too few tasks for
 * a growth figure to mean much); the long soak checks it at 10 %.
 */
afterAll(cleanup)

describe("a short soak", () => {
  it("600 mixed tasks: every answer right, no leaked process or descriptor, offers within the formula", async () => {
    assertHealthy(await soak(600, 100), 0.5)
  }, 900_000)
})
