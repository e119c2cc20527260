import { Effect, Exit, Layer, Scope } from "effect"
import { spawn } from "node:child_process"
import { afterAll, bench, describe } from "vitest"
import { CodeExecutor, defaultExecutorOptions } from "../src/index.js"
import type { CodeExecutorShape, ExecutionRequest, SandboxTier } from "../src/index.js"

/**
 * Executor benchmarks: warm-pool dispatch latency (one task at a time), throughput at the pool's
 * concurrency with a fresh process per task and with reuse, per tier; and the spawn limit of this
 * machine (`node -e 0` at the same concurrency) to express fresh-process throughput against it.
 * Throughput = hz x concurrency (each iteration runs `concurrency` tasks at once).
 */
const concurrency = 2
const trivial: ExecutionRequest = {
  language: "javascript",
  code: "return items",
  mode: { _tag: "AllItems" },
  items: [{ json: { n: 1 } }],
  continueOnFail: false
}

const scopes: Array<Scope.CloseableScope> = []
afterAll(async () => {
  for (const scope of scopes) await Effect.runPromise(Scope.close(scope, Exit.void))
})

const start = async (tier: SandboxTier, workerReuse: number): Promise<CodeExecutorShape | undefined> => {
  const scope = Effect.runSync(Scope.make())
  scopes.push(scope)
  const built = await Effect.runPromise(
    Effect.either(
      Layer.buildWithScope(
        CodeExecutor.layer({ ...defaultExecutorOptions, sandbox: tier, poolSize: concurrency, workerReuse }),
        scope
      )
    )
  )
  if (built._tag === "Left") return undefined
  await new Promise((resolve) => setTimeout(resolve, 1000)) // let the pool warm up
  return built.right.unsafeMap.get(CodeExecutor.key) as CodeExecutorShape
}

const once = (executor: CodeExecutorShape) => Effect.runPromise(executor.execute(trivial))
const batch = (executor: CodeExecutorShape) => Promise.all(Array.from({ length: concurrency }, () => once(executor)))

const nodeStart = () =>
  new Promise<void>((resolve) => spawn(process.execPath, ["-e", "0"], { stdio: "ignore" }).on("close", () => resolve()))

describe("spawn limit", () => {
  bench(`node -e 0, ${concurrency} at a time`, async () => {
    await Promise.all(Array.from({ length: concurrency }, nodeStart))
  }, { time: 3000 })
})

for (const tier of ["bwrap", "unshare", "none"] as const) {
  describe(`${tier} tier`, async () => {
    const fresh = await start(tier, 1)
    const reused = await start(tier, 1000)
    if (fresh === undefined || reused === undefined) return
    bench("dispatch latency, fresh process per task (warm pool)", () => once(fresh).then(() => undefined), {
      time: 3000
    })
    bench(`throughput, fresh process per task, ${concurrency} at a time`, () => batch(fresh).then(() => undefined), {
      time: 3000
    })
    bench("dispatch latency, reused process", () => once(reused).then(() => undefined), { time: 3000 })
    bench(`throughput, reused processes, ${concurrency} at a time`, () => batch(reused).then(() => undefined), {
      time: 3000
    })
  })
}
