import { afterEach, describe, expect, it } from "@effect/vitest"
import {
  authToken,
  cleanup,
  freePort,
  runnersReady,
  startBroker,
  startRunner,
  submit,
  untilRunning
} from "./harness.js"

afterEach(cleanup)

const slow = (ms: number, id: string) => ({
  taskType: "javascript",
  code: `await new Promise(r => setTimeout(r, ${ms}))\nreturn [{ json: { done: true } }]`,
  id
})

describe("connection", () => {
  it("retries until the broker is up, and reconnects with a fresh grant after the broker restarts", async () => {
    const port = await freePort()
    const runner = startRunner({ url: `http://127.0.0.1:${port}` })
    await runner.waitFor(/Failed to connect to broker: .* - retrying\.\.\./)
    let broker = await startBroker({}, port)
    await runnersReady(broker)
    expect((await submit(broker, { taskType: "javascript", code: "return [{ json: { a: 1 } }]" })).status).toBe(
      "success"
    )
    await broker.stop("SIGKILL")
    await runner.waitFor(/Connection to the broker closed \(code \d+\); reconnecting with a fresh grant token/)
    broker = await startBroker({}, port)
    await runnersReady(broker)
    expect((await submit(broker, { taskType: "javascript", code: "return [{ json: { a: 2 } }]" })).result).toEqual([{
      json: { a: 2 }
    }])
  }, 60_000)

  it("exits 1 with a clear message when the broker refuses the auth token", async () => {
    const broker = await startBroker()
    const runner = startRunner(broker, { N8N_RUNNERS_AUTH_TOKEN: "not-the-token" })
    expect(await runner.exited).toBe(1)
    expect(runner.output).toMatch(/Authentication failed with status 403: the broker refused N8N_RUNNERS_AUTH_TOKEN/)
  }, 30_000)

  it("with only a grant token: works once, and exits 1 when the connection closes unexpectedly", async () => {
    const broker = await startBroker()
    const grant = ((await (await fetch(`${broker.url}/runners/auth`, {
      method: "POST",
      body: JSON.stringify({ token: authToken })
    })).json()) as {
      data: { token: string }
    }).data.token
    const runner = startRunner(broker, { N8N_RUNNERS_AUTH_TOKEN: "", N8N_RUNNERS_GRANT_TOKEN: grant })
    await runnersReady(broker)
    expect((await submit(broker, { taskType: "javascript", code: "return []" })).status).toBe("success")
    await broker.stop("SIGKILL")
    expect(await runner.exited).toBe(1)
    expect(runner.output).toMatch(/Connection to task broker closed unexpectedly, exiting\.\.\./)
  }, 30_000)

  it("with only a used grant token: the 403 on upgrade is fatal", async () => {
    const broker = await startBroker()
    const runner = startRunner(broker, { N8N_RUNNERS_AUTH_TOKEN: "", N8N_RUNNERS_GRANT_TOKEN: "0".repeat(64) })
    expect(await runner.exited).toBe(1)
    expect(runner.output).toMatch(/Authentication failed with status 403: the grant token is unknown, used or expired/)
  }, 30_000)
})

describe("shutdown", () => {
  it("broker:drain stops offers but lets the running task finish", async () => {
    const broker = await startBroker({ N8N_GRACEFUL_SHUTDOWN_TIMEOUT: "10" })
    const runner = startRunner(broker)
    await runnersReady(broker)
    const pending = submit(broker, slow(1500, "draining"))
    await untilRunning(broker, "draining")
    void broker.stop("SIGTERM")
    await runner.waitFor(/The broker is draining: no new offers, running tasks finish/)
    expect((await pending).result).toEqual([{ json: { done: true } }])
  }, 30_000)

  it("with only a grant token, a drain followed by the broker closing is a normal exit (0)", async () => {
    const broker = await startBroker()
    const grant = ((await (await fetch(`${broker.url}/runners/auth`, {
      method: "POST",
      body: JSON.stringify({ token: authToken })
    })).json()) as {
      data: { token: string }
    }).data.token
    const runner = startRunner(broker, { N8N_RUNNERS_AUTH_TOKEN: "", N8N_RUNNERS_GRANT_TOKEN: grant })
    await runnersReady(broker)
    await broker.stop("SIGTERM")
    expect(await runner.exited).toBe(0)
  }, 30_000)

  it("SIGTERM waits for the running task, then exits 0", async () => {
    const broker = await startBroker()
    const runner = startRunner(broker)
    await runnersReady(broker)
    const pending = submit(broker, slow(1000, "sigterm"))
    await untilRunning(broker, "sigterm")
    const exited = runner.stop("SIGTERM")
    expect((await pending).status).toBe("success")
    expect(await exited).toBe(0)
  }, 30_000)

  it("SIGTERM with a task that outlasts the graceful budget kills it and exits 1", async () => {
    const broker = await startBroker()
    const runner = startRunner(broker, { N8N_RUNNERS_GRACEFUL_SHUTDOWN_TIMEOUT: "1" })
    await runnersReady(broker)
    const pending = submit(broker, slow(30_000, "too-slow"))
    await untilRunning(broker, "too-slow")
    expect(await runner.stop("SIGTERM")).toBe(1)
    expect(runner.output).toMatch(/Shutdown timed out after 1s, forcing exit\.\.\./)
    expect((await pending).error?.["message"]).toBe("Node execution failed")
  }, 30_000)

  it("shuts down by itself after the idle timeout, but not while a task runs", async () => {
    const broker = await startBroker()
    const runner = startRunner(broker, { N8N_RUNNERS_AUTO_SHUTDOWN_TIMEOUT: "1" })
    await runnersReady(broker)
    expect((await submit(broker, slow(1500, "busy"))).status).toBe("success")
    expect(runner.child.exitCode).toBeNull()
    expect(await runner.exited).toBe(0)
    expect(runner.output).toMatch(/Reached idle timeout, starting shutdown\.\.\./)
  }, 30_000)
})
