import { afterEach, describe, expect, it } from "@effect/vitest"
import { mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { variables } from "../src/RunnerConfig.js"
import { authToken, cleanup, runnersReady, runRunner, startBroker, startRunner } from "./harness.js"

afterEach(cleanup)

describe("the command line", () => {
  it("--help lists every variable with its default", async () => {
    const { code, output } = await runRunner(["--help"], {})
    expect(code).toBe(0)
    for (const variable of variables) expect(output).toContain(variable.name)
    expect(output).toMatch(/N8N_RUNNERS_MAX_CONCURRENCY\s+tasks run at the same time \(default: 5\)/)
  })

  it("--version prints the version", async () => {
    const { code, output } = await runRunner(["--version"], {})
    expect(code).toBe(0)
    expect(output.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })
})

describe("bad configuration fails at start with one clear line", () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ["no token at all", {}, /Environment variable N8N_RUNNERS_GRANT_TOKEN is required/],
    [
      "a non-positive task timeout",
      { N8N_RUNNERS_AUTH_TOKEN: "x", N8N_RUNNERS_TASK_TIMEOUT: "0" },
      /Task timeout must be positive/
    ],
    [
      "a payload limit beyond the pipe",
      { N8N_RUNNERS_AUTH_TOKEN: "x", N8N_RUNNERS_MAX_PAYLOAD: "5000000000" },
      /Max payload size exceeds pipe message limit/
    ],
    ["an unknown sandbox tier", { N8N_RUNNERS_AUTH_TOKEN: "x", N8N_RUNNERS_SANDBOX: "docker" }, /N8N_RUNNERS_SANDBOX/],
    [
      "an unknown task type",
      { N8N_RUNNERS_AUTH_TOKEN: "x", N8N_RUNNERS_TASK_TYPES: "javascript,ruby" },
      /N8N_RUNNERS_TASK_TYPES accepts javascript and python, got ruby/
    ],
    [
      "a number that is not one",
      { N8N_RUNNERS_AUTH_TOKEN: "x", N8N_RUNNERS_MAX_CONCURRENCY: "many" },
      /N8N_RUNNERS_MAX_CONCURRENCY/
    ],
    [
      "an unreadable _FILE",
      { N8N_RUNNERS_AUTH_TOKEN_FILE: "/nonexistent/token" },
      /Cannot read N8N_RUNNERS_AUTH_TOKEN_FILE \(\/nonexistent\/token\)/
    ]
  ]
  for (const [what, env, message] of cases) {
    it(what, async () => {
      const { code, output } = await runRunner([], env)
      expect(code).toBe(1)
      expect(output).toMatch(message)
      expect(output.trim().split("\n")).toHaveLength(1)
    })
  }

  it("a health port that is taken", async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve))
    const port = (blocker.address() as { port: number }).port
    const { code, output } = await runRunner([], {
      N8N_RUNNERS_AUTH_TOKEN: "x",
      N8N_RUNNERS_HEALTH_CHECK_SERVER_ENABLED: "1",
      N8N_RUNNERS_HEALTH_CHECK_SERVER_PORT: String(port)
    })
    blocker.close()
    expect(code).toBe(1)
    expect(output).toMatch(new RegExp(`Port ${port} is already in use`))
  })
})

describe("configuration that works", () => {
  it("reads the auth token from a file, and a custom id and name", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runner-secret-"))
    writeFileSync(join(dir, "token"), `${authToken}\n`)
    const broker = await startBroker()
    startRunner(broker, {
      N8N_RUNNERS_AUTH_TOKEN: "",
      N8N_RUNNERS_AUTH_TOKEN_FILE: join(dir, "token"),
      N8N_RUNNERS_ID: "runner-from-config",
      N8N_RUNNERS_NAME: "Named Runner"
    })
    const [info] = await runnersReady(broker)
    expect(info).toMatchObject({ id: "runner-from-config", name: "Named Runner" })
  }, 30_000)

  it("logs loudly when static analysis is switched off, and the jail still refuses", async () => {
    const broker = await startBroker()
    const runner = startRunner(broker, { N8N_RUNNERS_TEST_DISABLE_ANALYZER: "true" })
    await runner.waitFor(/N8N_RUNNERS_TEST_DISABLE_ANALYZER is set: static analysis is OFF/)
    await runnersReady(broker)
    const outcome = await fetch(`${broker.url}/api/tasks`, {
      method: "POST",
      body: JSON.stringify({
        taskType: "javascript",
        code:
          "return [{ json: { p: typeof process, fs: (() => { try { require('fs'); return 'loaded' } catch (e) { return e.message } })() } }]"
      })
    }).then((r) => r.json() as Promise<{ result: unknown }>)
    expect(outcome.result).toEqual([{ json: { p: "undefined", fs: "Module 'fs' is disallowed" } }])
  }, 30_000)
})
