import { afterAll, describe, it } from "@effect/vitest"
import { cleanup } from "../test/harness.js"
import { assertHealthy, soak } from "../test/soak.js"

/** `pnpm test:soak`: SOAK_TASKS (default 10 000) mixed tasks; RSS growth after the 1000th under 10 %. */
afterAll(cleanup)

const total = Number(process.env["SOAK_TASKS"] ?? 10_000)

describe("the long soak", () => {
  it(`${total} mixed tasks: no growth, no leaks`, async () => {
    assertHealthy(await soak(total, Math.min(1000, Math.floor(total / 10))), 0.1)
  })
})
