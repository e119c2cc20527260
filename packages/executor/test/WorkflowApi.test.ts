import { expect, layer } from "@effect/vitest"
import type { WorkerMessage } from "@taskrunner/protocol"
import { Effect } from "effect"
import { CodeExecutor, defaultExecutorOptions } from "../src/index.js"
import type { ExecutionRequest } from "../src/index.js"

/**
 * n8n's Code-node globals in the executor (the differential test in apps/runner/test-compat
 * compares them with n8n's own runner; these check what that cannot see: realms, RPC plumbing,
 * what goes back to the runner).
 */
const options = { ...defaultExecutorOptions, poolSize: 2, heapMb: 128, taskTimeoutMs: 10_000 }

const workflow: typeof WorkerMessage.WorkflowData.Type = {
  workflow: { id: "wf1", name: "Orders", active: true },
  staticData: { global: { count: 1 } },
  nodes: [
    { name: "Trigger", id: "n1", typeVersion: 1, parameters: { path: "x" } },
    { name: "Code", id: "n2", typeVersion: 2, parameters: {} }
  ],
  node: { name: "Code", id: "n2", typeVersion: 2, parameters: {} },
  runData: {
    Trigger: [{ data: { main: [[{ json: { a: 1 } }, { json: { a: 2 } }]] }, source: [null] }]
  },
  previousNode: { name: "Trigger", outputIndex: 0, runIndex: 0 },
  runIndex: 0,
  mode: "manual",
  executionId: "42",
  resumeUrl: "http://n8n/webhook-waiting/42",
  resumeFormUrl: "http://n8n/form-waiting/42",
  variables: { tier: "gold" },
  customData: { existing: "yes" },
  env: { blocked: false, values: { GREETING: "hi" } },
  timezone: "Asia/Tokyo"
}

const js = (code: string, rest: Partial<ExecutionRequest> = {}): ExecutionRequest => ({
  language: "javascript",
  code,
  mode: { _tag: "AllItems" },
  items: [{ json: { a: 1 }, pairedItem: { item: 0 } }, { json: { a: 2 }, pairedItem: { item: 1 } }],
  continueOnFail: false,
  workflow,
  ...rest
})

const run = (request: ExecutionRequest) => Effect.flatMap(CodeExecutor, (executor) => executor.execute(request))
const fail = (request: ExecutionRequest) => Effect.flip(run(request))

layer(CodeExecutor.layer(options), { timeout: 60_000 })("n8n's Code-node globals", (it) => {
  it.effect("other nodes, paired items, the workflow and the execution", () =>
    Effect.gen(function*() {
      const { result } = yield* run(js(
        "return { all: $('Trigger').all().length, last: $('Trigger').last().json.a, params: $('Trigger').params, " +
          "item: $('Trigger').itemMatching(1).json.a, node: $node['Trigger'].json.a, prev: $prevNode.name, " +
          "wf: $workflow, id: $execution.id, mode: $execution.mode, resume: $execution.resumeUrl, vars: $vars.tier, env: $env.GREETING }"
      ))
      expect(result).toEqual({
        all: 2,
        last: 2,
        params: { path: "x" },
        item: 2,
        node: 1,
        prev: "Trigger",
        wf: { id: "wf1", name: "Orders", active: true },
        id: "42",
        mode: "test",
        resume: "http://n8n/webhook-waiting/42",
        vars: "gold",
        env: "hi"
      })
    }))

  it.effect("custom data always goes back; static data only when the task changed it", () =>
    Effect.gen(function*() {
      const untouched = yield* run(js("return [$getWorkflowStaticData('global').count]"))
      expect(untouched).toMatchObject({ result: [1], customData: { existing: "yes" } })
      expect(untouched.staticData).toBeUndefined()
      const changed = yield* run(js(
        "$execution.customData.set('order', 7)\n$getWorkflowStaticData('node').seen = true\nreturn []"
      ))
      expect(changed.customData).toEqual({ existing: "yes", order: "7" })
      expect(changed.staticData).toEqual({ global: { count: 1 }, "node:Code": { seen: true } })
      // A failed task reports neither.
      const failed = yield* fail(js("$execution.customData.set('x', 'y')\nthrow new Error('no')"))
      expect(failed._tag).toBe("RuntimeError")
    }))

  it.effect("luxon and jmespath live in the task's realm, in GENERIC_TIMEZONE", () =>
    Effect.gen(function*() {
      const { result } = yield* run(js(
        "return { zone: $now.zoneName, realm: $now.constructor.constructor === (() => 1).constructor, " +
          "jm: $jmespath({ a: [{ b: 1 }, { b: 2 }] }, 'a[*].b'), iso: DateTime.fromMillis(0).toISO() }"
      ))
      expect(result).toEqual({ zone: "Asia/Tokyo", realm: true, jm: [1, 2], iso: "1970-01-01T09:00:00.000+09:00" })
    }))

  it.effect("helpers go to the runner as RPCs, Buffers both ways; errors reject", () =>
    Effect.gen(function*() {
      const calls: Array<{ name: string; params: ReadonlyArray<unknown> }> = []
      const { result } = yield* run(js(
        "const a = await helpers.httpRequest({ url: 'http://x' })\n" +
          "const b = await helpers.binaryToString(Buffer.from('hi'))\n" +
          "let c\ntry { await helpers.request('http://y') } catch (e) { c = e.message }\n" +
          "return { a, b, c, isBuffer: Buffer.isBuffer(a.raw) }",
        {
          onRpc: (name, params) => {
            calls.push({ name, params })
            if (name === "helpers.request") return Promise.resolve({ status: "error", data: "refused" })
            if (name === "helpers.binaryToString") return Promise.resolve({ status: "success", data: "hi" })
            return Promise.resolve({ status: "success", data: { ok: true, raw: { type: "Buffer", data: [1, 2] } } })
          }
        }
      ))
      expect(result).toEqual({
        a: { ok: true, raw: { type: "Buffer", data: [1, 2] } },
        b: "hi",
        c: "refused",
        isBuffer: true
      })
      expect(calls).toEqual([
        { name: "helpers.httpRequest", params: [{ url: "http://x" }] },
        { name: "helpers.binaryToString", params: [{ type: "Buffer", data: [104, 105] }] },
        { name: "helpers.request", params: ["http://y"] }
      ])
    }))

  it.effect("n8n's own errors carry their message only; blocked env access is refused", () =>
    Effect.gen(function*() {
      expect(yield* fail(js("return $('Nope').all()"))).toEqual(
        expect.objectContaining({ message: "Referenced node doesn't exist" })
      )
      expect(yield* fail(js("return $('Nope').all()"))).not.toHaveProperty("description")
      expect(yield* fail(js("return helpers.getSSHClient()"))).toMatchObject({
        message: "The function \"helpers.getSSHClient\" is not supported in the Code Node"
      })
      expect(yield* fail(js("return $env.X", { workflow: { ...workflow, env: { blocked: true, values: {} } } })))
        .toMatchObject({ message: "access to env vars denied" })
    }))

  it.effect("per item: the item globals and paired items follow the item", () =>
    Effect.gen(function*() {
      const { result } = yield* run(
        js("return { json: { i: $itemIndex, from: $('Trigger').item.json.a, mine: $json.a } }", {
          mode: { _tag: "PerItem", startIndex: 0 }
        })
      )
      expect(result).toEqual([
        { json: { i: 0, from: 1, mine: 1 }, pairedItem: { item: 0 } },
        { json: { i: 1, from: 2, mine: 2 }, pairedItem: { item: 1 } }
      ])
    }))
})
