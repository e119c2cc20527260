import { Effect, Exit, Layer, Scope } from "effect"
import { afterAll, bench, describe } from "vitest"
import { CodeExecutor, defaultExecutorOptions } from "../src/index.js"
import type { CodeExecutorShape, ExecutionRequest } from "../src/index.js"

/**
 * Python per-task overhead: `return _items` through the fork server (goal: p50 <= 5 ms) and in
 * strict mode (a fresh jailed interpreter per task), at the strongest tier available.
 */
const request: ExecutionRequest = {
  language: "python",
  code: "return _items",
  mode: { _tag: "AllItems" },
  items: [{ json: { n: 1 } }],
  continueOnFail: false
}

const scopes: Array<Scope.CloseableScope> = []
afterAll(async () => {
  for (const scope of scopes) await Effect.runPromise(Scope.close(scope, Exit.void))
})

const start = async (pythonStrict: boolean): Promise<CodeExecutorShape> => {
  const scope = Effect.runSync(Scope.make())
  scopes.push(scope)
  const context = await Effect.runPromise(
    Layer.buildWithScope(CodeExecutor.layer({ ...defaultExecutorOptions, poolSize: 1, pythonStrict }), scope)
  )
  const executor = context.unsafeMap.get(CodeExecutor.key) as CodeExecutorShape
  await Effect.runPromise(executor.execute(request)) // starts the server
  return executor
}

describe("python", async () => {
  const forked = await start(false)
  const strict = await start(true)
  bench(`fork server (${forked.tier}), return _items`, async () => {
    await Effect.runPromise(forked.execute(request))
  }, { time: 3000 })
  bench(`strict mode (${strict.tier}), return _items`, async () => {
    await Effect.runPromise(strict.execute(request))
  }, { time: 3000 })
})
