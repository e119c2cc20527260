import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ScriptedRunner, startBroker } from "./harness.js"
import type { RunningBroker } from "./harness.js"

const main = new URL("../dist/main.js", import.meta.url).pathname

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the built CLI to completion (or kills it after `timeoutMs`). */
const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}, timeoutMs = 20_000) =>
  new Promise<Run>((resolve) => {
    const child = spawn(process.execPath, [main, ...args], { env: { PATH: process.env["PATH"] ?? "", ...env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += String(d)))
    child.stderr.on("data", (d) => (stderr += String(d)))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

/** Starts `serve`, waits for its banner, and returns its URL and a stop function (SIGTERM). */
const serve = (env: Record<string, string>, args: ReadonlyArray<string> = ["--port", "0"]) =>
  new Promise<{
    url: string
    output: () => string
    waitFor: (pattern: RegExp) => Promise<string>
    stop: () => Promise<number | null>
  }>((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { env: { PATH: process.env["PATH"] ?? "", ...env } })
    let output = ""
    const exited = new Promise<number | null>((done) => child.on("close", done))
    child.stdout.on("data", (d) => {
      output += String(d)
      const match = /Mock broker listening on (http:\/\/[\d.:]+)/.exec(output)
      if (match) {
        resolve({
          url: match[1]!,
          output: () => output,
          waitFor: async (pattern) => {
            for (let i = 0; i < 100 && !pattern.test(output); i++) await new Promise((r) => setTimeout(r, 20))
            return output
          },
          stop: () => {
            child.kill("SIGTERM")
            return exited
          }
        })
      }
    })
    child.stderr.on("data", (d) => (output += String(d)))
    void exited.then((code) => reject(new Error(`mock broker exited with ${code}: ${output}`)))
  })

describe("the built CLI", () => {
  it("exists (pnpm build ran)", () => {
    expect(existsSync(main), `${main} is missing: run pnpm build`).toBe(true)
  })

  it("--help documents the commands and the variables", async () => {
    const help = await cli(["--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/N8N_RUNNERS_TASK_REQUEST_TIMEOUT/)
    const submitHelp = await cli(["submit", "--help"])
    expect(submitHelp.stdout).toMatch(/--type/)
    expect(submitHelp.stdout).toMatch(/Exits 0 on success, 1 on a task error, 2 on a usage error/)
  })

  it("serves on a free port, prints it, and exits 0 on SIGTERM", async () => {
    const server = await serve({ N8N_RUNNERS_AUTH_TOKEN: "cli-token" })
    const health = await fetch(`${server.url}/healthz`)
    expect(await health.json()).toEqual({ status: "ok" })
    const auth = await fetch(`${server.url}/runners/auth`, {
      method: "POST",
      body: JSON.stringify({ token: "cli-token" })
    })
    expect(auth.status).toBe(200)
    expect(await server.stop()).toBe(0)
  })

  it("prints a generated auth token when none is set, and reads <NAME>_FILE", async () => {
    const generated = await serve({})
    expect(await generated.waitFor(/must use this one/)).toMatch(/runners must use this one: [0-9a-f]{64}/)
    await generated.stop()
    const dir = mkdtempSync(join(tmpdir(), "mock-broker-"))
    writeFileSync(join(dir, "token"), "from-file\n")
    const fromFile = await serve({ N8N_RUNNERS_AUTH_TOKEN_FILE: join(dir, "token") })
    const auth = await fetch(`${fromFile.url}/runners/auth`, {
      method: "POST",
      body: JSON.stringify({ token: "from-file" })
    })
    expect(auth.status).toBe(200)
    await fromFile.stop()
  })

  it("fails at start with one clear line for a bad setting (exit 2)", async () => {
    const run = await cli(["--port", "0"], { N8N_RUNNERS_TASK_TIMEOUT: "0" })
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/Task timeout must be greater than 0/)
    const notNumber = await cli(["--port", "0"], { N8N_RUNNERS_HEARTBEAT_INTERVAL: "soon" })
    expect(notNumber.code).toBe(2)
    expect(notNumber.stderr).toMatch(/N8N_RUNNERS_HEARTBEAT_INTERVAL/)
  })

  it("says so when the port is taken (exit 1)", async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve))
    const port = (blocker.address() as { port: number }).port
    const run = await cli(["--port", String(port)], { N8N_RUNNERS_AUTH_TOKEN: "x" })
    blocker.close()
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(new RegExp(`Port ${port} is already in use`))
  })
})

describe("mock-broker submit", () => {
  let broker: RunningBroker
  let dir: string
  beforeAll(async () => {
    broker = await startBroker()
    dir = mkdtempSync(join(tmpdir(), "mock-broker-submit-"))
    writeFileSync(join(dir, "code.js"), "return items")
    writeFileSync(join(dir, "items.json"), JSON.stringify([{ json: { n: 1 } }]))
    writeFileSync(join(dir, "bad.json"), "[{")
  })
  afterAll(() => broker.stop())

  /** A runner that answers the next task with `answer`, after checking what it was sent. */
  const answerNext = async (answer: (taskId: string) => Record<string, unknown>) => {
    const runner = await ScriptedRunner.register(broker, ["javascript", "python"])
    // An offer that does not expire: the CLI may take seconds to start on a loaded machine.
    runner.offer("javascript", -1)
    const { settings, taskId } = await runner.acceptNext(20_000)
    runner.send(answer(taskId))
    runner.close()
    return settings
  }

  it("prints the answer and exits 0 on success", async () => {
    const running = cli([
      "submit",
      "--type",
      "javascript",
      "--file",
      join(dir, "code.js"),
      "--items",
      join(dir, "items.json"),
      "--mode",
      "each",
      "--url",
      broker.url
    ])
    const settings = await answerNext((taskId) => ({
      type: "runner:taskdone",
      taskId,
      data: { result: [{ json: { n: 1 }, pairedItem: { item: 0 } }] }
    }))
    expect(settings["nodeMode"]).toBe("runOnceForEachItem")
    const run = await running
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({
      status: "success",
      result: [{ json: { n: 1 }, pairedItem: { item: 0 } }]
    })
  })

  it("exits 1 on a task error", async () => {
    const running = cli(["submit", "--type", "javascript", "--file", join(dir, "code.js"), "--url", broker.url])
    await answerNext((taskId) => ({ type: "runner:taskerror", taskId, error: { message: "boom" } }))
    const run = await running
    expect(run.code).toBe(1)
    expect(JSON.parse(run.stdout)).toMatchObject({ status: "error", error: { message: "boom" } })
  })

  it("exits 2 on usage errors", async () => {
    expect((await cli(["submit", "--file", join(dir, "code.js")])).code).toBe(2)
    expect((await cli(["submit", "--type", "ruby", "--file", join(dir, "code.js")])).code).toBe(2)
    expect((await cli(["submit", "--type", "python", "--file", join(dir, "missing.py")])).code).toBe(2)
    const badItems = await cli([
      "submit",
      "--type",
      "python",
      "--file",
      join(dir, "code.js"),
      "--items",
      join(dir, "bad.json")
    ])
    expect(badItems.code).toBe(2)
    expect(badItems.stderr).toMatch(/--items .* is not valid JSON/)
  })

  it("exits 1 when the broker cannot be reached", async () => {
    const run = await cli(["submit", "--type", "python", "--file", join(dir, "code.js"), "--url", "http://127.0.0.1:1"])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/Cannot reach the mock broker at http:\/\/127.0.0.1:1/)
  })
})
