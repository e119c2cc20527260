import { afterAll, afterEach, describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import {
  cleanup,
  commandOf,
  descendants,
  freePort,
  runners,
  runnersReady,
  ScriptedBroker,
  sleep,
  startBroker,
  startRunner,
  submit
} from "./harness.js"
import type { Broker, Outcome } from "./harness.js"

/**
 * Faults, each with real processes: the broker or the runner killed mid-task, a child running out
 * of memory or killed from outside, a task filling the jail's /tmp, a broker that stops reading,
 * and a burst of 1000 submissions. Each must end in a clear error to the broker or a clean
 * reconnect; the next task succeeds and nothing is lost.
 */

afterEach(cleanup)
afterAll(cleanup)

const ordinary = { taskType: "javascript", code: "return [{ json: { ok: true } }]" }
const expectOrdinaryTaskWorks = async (broker: { url: string }) => {
  const outcome = await submit(broker, ordinary)
  expect(outcome.status, JSON.stringify(outcome.error)).toBe("success")
  expect(outcome.result).toEqual([{ json: { ok: true } }])
}

/** CPU time used so far by a process, in clock ticks. */
const cpuTicks = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return -1
  }
}

/**
 * The process among `candidates()` running a busy loop: the one that used most of a CPU over a
 * second (a pool child warming up uses some too, briefly, so one sample is not enough).
 */
const busiest = async (candidates: () => ReadonlyArray<number>): Promise<number> => {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pids = candidates()
    const before = new Map(pids.map((pid) => [pid, cpuTicks(pid)]))
    await sleep(1000)
    const used = pids.map((pid) => [pid, cpuTicks(pid) - (before.get(pid) ?? 0)] as const).sort((a, b) => b[1] - a[1])
    // At least 60 of the 100 ticks a second has: busy the whole time.
    if (used[0] !== undefined && used[0][1] >= 60) return used[0][0]
  }
  throw new Error("no busy process found")
}

/** Waits until the broker lists a task as running. */
const untilRunning = async (broker: Broker) => {
  for (let i = 0; i < 400; i++) {
    const tasks = (await (await fetch(`${broker.url}/api/tasks`)).json()) as Array<{ status: string }>
    if (tasks.some((t) => t.status === "running")) return
    await sleep(25)
  }
  throw new Error("no task started running")
}

/** Waits until every pid in `pids` is gone. */
const untilGone = async (pids: ReadonlyArray<number>, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const left = pids.filter((pid) => commandOf(pid) !== "")
    if (left.length === 0) return
    if (Date.now() > deadline) throw new Error(`still running: ${left.map((p) => `${p} ${commandOf(p)}`).join(", ")}`)
    await sleep(100)
  }
}

describe("the broker killed mid-task and restarted", () => {
  it("the runner kills the orphaned task, reconnects with a fresh grant, and the next task succeeds", async () => {
    const port = await freePort()
    const broker = await startBroker({}, port)
    const runner = startRunner(broker, { N8N_RUNNERS_MAX_CONCURRENCY: "2" })
    await runnersReady(broker)
    const pending = submit(broker, { taskType: "javascript", code: "while (true) {}" }).catch((e: Error) => e)
    await untilRunning(broker)
    const looping = await busiest(() => descendants(runner.pid))
    await broker.stop("SIGKILL")
    // The submitter lost its broker: its request fails (the broker is gone, nothing can answer).
    expect(await pending).toBeInstanceOf(Error)
    await runner.waitFor(/Killed 1 running task\(s\): the connection to the broker was lost/)
    // The looping child is killed (and replaced in the warm pool).
    await untilGone([looping])
    const restarted = await startBroker({}, port)
    await runnersReady(restarted)
    await expectOrdinaryTaskWorks(restarted)
    expect(runner.alive).toBe(true)
  })
})

describe("the runner SIGKILLed mid-task", () => {
  it("the broker fails the task with n8n's error, the jailed child dies with the runner, a new runner serves", async () => {
    const broker = await startBroker()
    const first = startRunner(broker, { N8N_RUNNERS_MAX_CONCURRENCY: "2" })
    await runnersReady(broker)
    const pending = submit(broker, { taskType: "javascript", code: "while (true) {}" })
    await untilRunning(broker)
    const tree = descendants(first.pid)
    expect(tree.length).toBeGreaterThan(0)
    await first.stop("SIGKILL")
    const outcome = await pending
    expect(outcome.status).toBe("error")
    expect(outcome.error?.["message"]).toBe("Node execution failed")
    // Every process the runner had started (jails, children, the Python server) goes with it.
    await untilGone(tree)
    startRunner(broker, { N8N_RUNNERS_MAX_CONCURRENCY: "2" })
    await runnersReady(broker)
    await expectOrdinaryTaskWorks(broker)
  })
})

describe("children that fail", () => {
  it("out of memory (JavaScript heap and Python address space): a clear error, then the next task runs", async () => {
    const broker = await startBroker()
    startRunner(broker, { N8N_RUNNERS_MAX_OLD_SPACE_SIZE: "128" })
    await runnersReady(broker)
    const js = await submit(broker, {
      taskType: "javascript",
      code: "const a = []\nwhile (true) a.push(new Array(1e6).fill(1))"
    })
    expect(js.status).toBe("error")
    expect(String(js.error?.["message"])).toMatch(/ran out of memory/)
    const python = await submit(broker, { taskType: "python", code: "x = []\nwhile True:\n    x.append(' ' * 10**7)" })
    expect(python.status).toBe("error")
    expect(String(python.error?.["message"])).toMatch(/memory/i)
    await expectOrdinaryTaskWorks(broker)
  })

  it("a child killed by a signal from outside: the task fails saying so, the next one runs", async () => {
    const broker = await startBroker()
    const runner = startRunner(broker, { N8N_RUNNERS_MAX_CONCURRENCY: "2" })
    await runnersReady(broker)
    for (const [taskType, code] of [["javascript", "while (true) {}"], ["python", "while True:\n    pass"]] as const) {
      const pending = submit(broker, { taskType, code })
      await untilRunning(broker)
      const victim = await busiest(() => descendants(runner.pid))
      process.kill(victim, "SIGKILL")
      const outcome: Outcome = await pending
      expect(outcome.status).toBe("error")
      expect(String(outcome.error?.["message"]), JSON.stringify(outcome.error)).toMatch(/kill|SIGKILL|signal/i)
    }
    await expectOrdinaryTaskWorks(broker)
    expect(runner.alive).toBe(true)
  })

  it("a task that fills the jail's /tmp fails alone: the host's /tmp and the next tasks are untouched", async () => {
    const broker = await startBroker()
    startRunner(broker, { N8N_RUNNERS_STDLIB_ALLOW: "os" })
    await runnersReady(broker)
    const filler = [
      "import os",
      "written = 0",
      "for n in range(100000):",
      "    fd = os.open(f'/tmp/fill-{n}', os.O_WRONLY | os.O_CREAT, 0o600)",
      "    os.write(fd, b'x' * (1 << 20))",
      "    os.close(fd)",
      "    written += 1",
      "return [{'json': {'written': written}}]"
    ].join("\n")
    const outcome = await submit(broker, { taskType: "python", code: filler })
    // Refused (the jail's /tmp is not the task's to write) or stopped by the limits: never a success.
    expect(outcome.status).toBe("error")
    expect(String(outcome.error?.["message"])).toMatch(/Permission denied|No space left|too large|File size/i)
    expect((await submit(broker, { taskType: "python", code: "return [{'json': {'ok': True}}]" })).status).toBe(
      "success"
    )
    await expectOrdinaryTaskWorks(broker)
  })
})

describe("a broker that stops reading (backpressure)", () => {
  it("the runner holds on without dying; when the broker reads again every answer arrives", async () => {
    // A scripted broker over a real WebSocket that pauses its socket while tasks with large
    // answers run, then reads everything.
    const broker = await ScriptedBroker.start()
    const runner = startRunner(broker, { N8N_RUNNERS_MAX_CONCURRENCY: "4", N8N_RUNNERS_TASK_TYPES: "javascript" })
    const take = (match: (m: Record<string, unknown>) => boolean) => broker.take(match)
    await take((m) => m["type"] === "runner:info")
    broker.send({ type: "broker:runnerregistered" })
    // Four tasks, each answering 8 MB, started while the broker still reads.
    const ids = ["bp-1", "bp-2", "bp-3", "bp-4"]
    for (const taskId of ids) {
      const offer = await take((m) => m["type"] === "runner:taskoffer")
      broker.send({ type: "broker:taskofferaccept", taskId, offerId: offer["offerId"] })
      await take((m) => m["type"] === "runner:taskaccepted" && m["taskId"] === taskId)
      broker.send({
        type: "broker:tasksettings",
        taskId,
        settings: { code: "return [{ json: { s: 'x'.repeat(8 * 1024 * 1024) } }]", nodeMode: "runCode" }
      })
    } // Stop reading: the runner's answers pile up in its socket and then in its memory.

    ;(broker.socket as unknown as { _socket: { pause: () => void; resume: () => void } })._socket.pause()
    await sleep(4000)
    expect(runner.alive, runner.output.slice(-2000)).toBe(true)
    ;(broker.socket as unknown as { _socket: { pause: () => void; resume: () => void } })._socket.resume()
    for (const taskId of ids) {
      const done = await take((m) => m["taskId"] === taskId && m["type"] === "runner:taskdone")
      expect(JSON.stringify((done["data"] as { result: unknown }).result).length).toBeGreaterThan(8 * 1024 * 1024)
    }
    expect(runner.alive).toBe(true)
    broker.close()
  })
})

describe("a burst of 1000 submissions against max concurrency 5", () => {
  it("every one completes or fails clearly; none hangs, and the runner never holds more than 5", async () => {
    const broker = await startBroker({ N8N_RUNNERS_TASK_REQUEST_TIMEOUT: "120" })
    startRunner(broker, {
      N8N_RUNNERS_MAX_CONCURRENCY: "5",
      N8N_RUNNERS_WORKER_REUSE: "200",
      N8N_RUNNERS_TASK_TYPES: "javascript"
    })
    await runnersReady(broker)
    let most = 0
    let mostHeld = 0
    const watching = { on: true }
    const watch = (async () => {
      while (watching.on) {
        const [info] = await runners(broker).catch(() => [])
        if (info !== undefined) {
          most = Math.max(most, info.runningTasks)
          // n8n's formula (one task type): open offers + running tasks never exceed the maximum.
          mostHeld = Math.max(mostHeld, info.runningTasks + info.openOffers)
        }
        await sleep(20)
      }
    })()
    const started = Date.now()
    const outcomes = await Promise.all(
      Array.from({ length: 1000 }, (_, n) =>
        submit(broker, {
          taskType: "javascript",
          code: n % 10 === 0 ? "throw new Error('planned ' + $json.n)" : "return [{ json: { n: $json.n * 2 } }]",
          items: [{ json: { n } }]
        }))
    )
    watching.on = false
    await watch
    const failed = outcomes.filter((o) => o.status === "error")
    // The planned failures fail with their own message; every other task doubled its number.
    expect(outcomes.map((o) => o.status === "error" ? String(o.error?.["message"]).split(" [")[0] : o.result)).toEqual(
      outcomes.map((_, n) => n % 10 === 0 ? `planned ${n}` : [{ json: { n: n * 2 } }])
    )
    expect(failed.length).toBe(100)
    expect(most).toBeGreaterThan(1)
    expect(most).toBeLessThanOrEqual(5)
    expect(mostHeld).toBeLessThanOrEqual(5)
    console.log(`1000 submissions in ${Date.now() - started} ms; at most ${most} running at once`)
  })
})
