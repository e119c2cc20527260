import type { WorkerMessage } from "@taskrunner/protocol"
import { Effect, Exit, Layer, Scope } from "effect"
import { afterAll, bench, describe } from "vitest"
import { CodeExecutor, defaultExecutorOptions } from "../src/index.js"
import type { CodeExecutorShape, ExecutionRequest } from "../src/index.js"

/**
 * What n8n's Code-node globals cost per task: installing them (every task gets a fresh context),
 * and evaluating luxon or jmespath in the task's context on first use. Reused processes, so the
 * numbers are the API's and not a process start's.
 */
const workflow: typeof WorkerMessage.WorkflowData.Type = {
  workflow: { id: "wf", name: "Bench", active: false },
  staticData: {},
  nodes: [{ name: "Trigger", parameters: {} }, { name: "Code", parameters: {} }],
  node: { name: "Code", parameters: {} },
  runData: { Trigger: [{ data: { main: [[{ json: { n: 1 } }]] } }] },
  previousNode: { name: "Trigger", outputIndex: 0, runIndex: 0 },
  runIndex: 0,
  mode: "manual",
  executionId: "1",
  resumeUrl: "",
  resumeFormUrl: "",
  variables: {},
  customData: {},
  env: { blocked: false, values: {} },
  timezone: "Europe/Berlin"
}

const request = (code: string, withWorkflow: boolean): ExecutionRequest => ({
  language: "javascript",
  code,
  mode: { _tag: "AllItems" },
  items: [{ json: { n: 1 } }],
  continueOnFail: false,
  ...(withWorkflow ? { workflow } : {})
})

let scope: Scope.CloseableScope | undefined
afterAll(async () => {
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
})

describe("n8n globals (reused process, fresh context per task)", async () => {
  scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(CodeExecutor.layer({ ...defaultExecutorOptions, poolSize: 1, workerReuse: 100_000 }), scope)
  )
  const executor = context.unsafeMap.get(CodeExecutor.key) as CodeExecutorShape
  const run = (r: ExecutionRequest) => Effect.runPromise(executor.execute(r)).then(() => undefined)
  const plain = request("return items", false)
  const api = request("return $('Trigger').all()", true)
  const luxon = request("return [{ json: { d: $now.toISO() } }]", true)
  const jmespath = request("return [{ json: { v: $jmespath({ a: [1, 2] }, 'a[1]') } }]", true)
  await run(luxon) // compile the libraries once in the process, as a long-lived worker would have
  await run(jmespath)
  bench("no workflow data: return items", () => run(plain), { time: 3000 })
  bench("n8n globals installed: $('Trigger').all()", () => run(api), { time: 3000 })
  bench("luxon evaluated in the context: $now", () => run(luxon), { time: 3000 })
  bench("jmespath evaluated in the context: $jmespath", () => run(jmespath), { time: 3000 })
})

describe("n8n globals (fresh process per task: luxon compiled in each)", async () => {
  const own = Effect.runSync(Scope.make())
  const closeOwn = () => Effect.runPromise(Scope.close(own, Exit.void))
  afterAll(closeOwn)
  const context = await Effect.runPromise(
    Layer.buildWithScope(CodeExecutor.layer({ ...defaultExecutorOptions, poolSize: 2, workerReuse: 1 }), own)
  )
  const executor = context.unsafeMap.get(CodeExecutor.key) as CodeExecutorShape
  const run = (r: ExecutionRequest) => Effect.runPromise(executor.execute(r)).then(() => undefined)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  bench("fresh process: return items", () => run(request("return items", false)), { time: 4000 })
  bench("fresh process: $now (luxon)", () => run(request("return [{ json: { d: $now.toISO() } }]", true)), {
    time: 4000
  })
})
