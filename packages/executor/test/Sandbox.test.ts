/* oxlint-disable vitest/no-disabled-tests, vitest/no-conditional-tests -- a tier this machine cannot run is skipped with the reason in the test name, and only network-isolating tiers get the network test */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Layer, Scope } from "effect"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CodeExecutor, defaultExecutorOptions, detectSandbox, permissionFlag } from "../src/index.js"
import type { CodeExecutorShape, SandboxTier } from "../src/index.js"

const canaryDir = mkdtempSync(join(tmpdir(), "canary-"))
const canary = join(canaryDir, "secret.txt")
writeFileSync(canary, "CANARY-7f3a")

// Every built-in module is allowed here on purpose: the jail alone must hold.
const options = {
  ...defaultExecutorOptions,
  poolSize: 1,
  heapMb: 128,
  allowBuiltin: "*" as const,
  taskTimeoutMs: 10_000
}

/** Starts an executor at one tier, or says why that tier cannot run on this machine. */
const startTier = async (
  tier: SandboxTier
): Promise<{ executor: CodeExecutorShape; close: () => Promise<void> } | string> => {
  const scope = Effect.runSync(Scope.make())
  const built = await Effect.runPromise(
    Effect.either(Layer.buildWithScope(CodeExecutor.layer({ ...options, sandbox: tier }), scope))
  )
  if (Either.isLeft(built)) return built.left.message
  const executor = built.right.unsafeMap.get(CodeExecutor.key) as CodeExecutorShape
  return { executor, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const run = (executor: CodeExecutorShape, code: string) =>
  Effect.runPromise(
    executor.execute({ language: "javascript", code, mode: { _tag: "AllItems" }, items: [], continueOnFail: false })
  )

/** Runs `body` inside the task and returns its answer, or the error message it threw. */
const probe = async (executor: CodeExecutorShape, body: string): Promise<unknown> => {
  const { result } = await run(
    executor,
    `try { return [{ json: { ok: await (async () => { ${body} })() } }] } catch (e) { return [{ json: { error: String(e.code ?? e.message) } }] }`
  )
  return (result as Array<{ json: unknown }>)[0]!.json
}

const isRoot = process.getuid?.() === 0

/** Whether a tier's tool is installed (the test that needs it says so when it is not). */
const detectable = (tool: string) => ["/usr/bin", "/bin"].some((dir) => existsSync(`${dir}/${tool}`))

for (const tier of ["bwrap", "unshare", "none"] as const) {
  describe(`the ${tier} tier`, async () => {
    const started = await startTier(tier)
    if (typeof started === "string") {
      it.skip(`${tier} cannot run on this machine: ${started}`, () => {})
      return
    }
    const { executor } = started
    afterAll(started.close)

    it("reports the tier it runs at", () => {
      expect(executor.tier).toBe(tier)
    })

    it("starts with an empty environment", async () => {
      expect(await probe(executor, "return Object.keys(require('process').env)")).toEqual({ ok: [] })
    })

    it("cannot read a canary file outside the allowed paths", async () => {
      const answer = await probe(executor, `return require('fs').readFileSync(${JSON.stringify(canary)}, 'utf8')`)
      expect(JSON.stringify(answer)).not.toContain("CANARY")
      expect(answer).toHaveProperty("error")
    })

    it("cannot start processes or threads, even with the modules allowed", async () => {
      expect(await probe(executor, "return require('child_process').execSync('id').toString()")).toEqual({
        error: "ERR_ACCESS_DENIED"
      })
      expect(await probe(executor, "return new (require('worker_threads').Worker)('1', { eval: true })")).toEqual({
        error: "ERR_ACCESS_DENIED"
      })
    })

    it.runIf(isRoot)("runs as an unprivileged user of its own", async () => {
      const answer = (await probe(executor, "return require('process').getuid()")) as { ok: number }
      expect(answer.ok).toBeGreaterThanOrEqual(60_000)
    })

    if (tier === "none") {
      it("has no network namespace (the reason this tier is reported loudly)", () => {
        expect(executor.tier).toBe("none")
      })
    } else {
      it("cannot reach a TCP listener on 127.0.0.1, which records no connection", async () => {
        let connections = 0
        const server = createServer((socket) => {
          connections++
          socket.destroy()
        })
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
        const port = (server.address() as { port: number }).port
        const answer = await probe(
          executor,
          `return await new Promise((resolve, reject) => {
          const s = require('net').connect(${port}, '127.0.0.1', () => resolve('connected'))
          s.on('error', reject)
        })`
        )
        server.close()
        expect(answer).toHaveProperty("error")
        expect(connections).toBe(0)
      })

      it("sees its own process tree only (PID namespace)", async () => {
        const answer = (await probe(executor, "return require('process').pid")) as { ok: number }
        expect(answer.ok).toBeLessThan(10)
      })
    }
  })
}

describe("tier selection", () => {
  it.effect("an explicitly requested tier that cannot work is an error, not a silent downgrade", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(detectSandbox({
        setting: "bwrap",
        probe: {
          program: "/nonexistent/node",
          args: ["-e", "0"],
          readable: [],
          limits: {
            heapMb: 64,
            addressSpaceMb: 2048,
            cpuSeconds: 10,
            maxProcesses: 64,
            maxFileBytes: 1024,
            maxOpenFiles: 64
          },
          uid: undefined
        }
      }))
      expect(error._tag).toBe("SandboxUnavailable")
      expect(error.message).toMatch(/^The bwrap sandbox is not available: bwrap: /)
    }))

  it.runIf(detectable("bwrap") && existsSync("/usr/bin/dd"))(
    "the bwrap jail's /tmp is a bounded tmpfs: whoever may write there cannot fill the host's memory",
    () =>
      Effect.runPromise(Effect.gen(function*() {
        const limits = {
          heapMb: 64,
          addressSpaceMb: 2048,
          cpuSeconds: 10,
          maxProcesses: 64,
          maxFileBytes: 512 * 1024 * 1024,
          maxOpenFiles: 64
        }
        const spec = { program: "/usr/bin/dd", args: ["-e", "0"], readable: [], limits, uid: undefined }
        const sandbox = yield* detectSandbox({ setting: "bwrap", probe: { ...spec, program: process.execPath } })
        // As the jail's own user (root when the runner is root), the one that could write /tmp.
        const command = sandbox.command({
          ...spec,
          args: ["if=/dev/zero", "of=/tmp/fill", "bs=1M", "count=200"]
        })
        const run = spawnSync(command.file, [...command.args], { encoding: "utf8" })
        expect(run.status).not.toBe(0)
        expect(run.stderr).toMatch(/No space left on device/)
        expect(Number(/(\d+) bytes/.exec(run.stderr)?.[1])).toBeLessThanOrEqual(64 * 1024 * 1024)
      }))
  )

  it("uses Node's permission flag for the running version", () => {
    expect(permissionFlag("20.20.2")).toBe("--experimental-permission")
    expect(permissionFlag("22.12.0")).toBe("--experimental-permission")
    expect(permissionFlag("22.13.0")).toBe("--permission")
    expect(permissionFlag("24.1.0")).toBe("--permission")
  })
})
