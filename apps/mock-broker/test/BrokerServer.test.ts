import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import { Socket } from "node:net"
import { WebSocket } from "ws"
import { authToken, fetchGrant, quiet, ScriptedRunner, startBroker, submit } from "./harness.js"
import type { RunningBroker } from "./harness.js"

let broker: RunningBroker
beforeEach(async () => {
  broker = await startBroker({ grantTokenTtlMs: 400 })
})
afterEach(() => broker.stop())

/** Sends a raw upgrade request and returns the status line the broker answers with. */
const upgradeStatus = (path: string, headers: Record<string, string> = {}) =>
  new Promise<string>((resolve, reject) => {
    const { port } = new URL(broker.url)
    const socket = new Socket()
    let answer = ""
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1")
    })
    socket.on("close", () => resolve(answer.split("\r\n")[0] ?? ""))
    socket.on("error", reject)
    socket.connect(Number(port), "127.0.0.1", () => {
      const lines = [
        `GET ${path} HTTP/1.1`,
        `Host: 127.0.0.1:${port}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)
      ]
      socket.write(`${lines.join("\r\n")}\r\n\r\n`)
    })
    setTimeout(() => socket.destroy(), 2000)
  })

describe("POST /runners/auth", () => {
  it("exchanges the auth token for a 64-hex grant token", async () => {
    const res = await fetch(`${broker.url}/runners/auth`, {
      method: "POST",
      body: JSON.stringify({ token: authToken })
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { data: { token: string } }
    expect(body.data.token).toMatch(/^[0-9a-f]{64}$/)
  })

  it("answers 403 Forbidden to a wrong token, also one of the same length", async () => {
    for (const token of ["nope", "x".repeat(authToken.length)]) {
      const res = await fetch(`${broker.url}/runners/auth`, { method: "POST", body: JSON.stringify({ token }) })
      expect(res.status).toBe(403)
      expect(await res.json()).toEqual({ code: 403, message: "Forbidden" })
    }
  })

  it("answers 400 to a bad body", async () => {
    for (const body of ["{}", "{\"token\":\"\"}", "{\"token\":5}", "not json", "[]"]) {
      const res = await fetch(`${broker.url}/runners/auth`, { method: "POST", body })
      expect(res.status, body).toBe(400)
    }
  })

  it("rate-limits when the limit is on (n8n: 5 per second)", async () => {
    const limited = await startBroker({ rateLimitPerSecond: 5 })
    try {
      const statuses = await Promise.all(
        Array.from(
          { length: 7 },
          () =>
            fetch(`${limited.url}/runners/auth`, { method: "POST", body: JSON.stringify({ token: authToken }) }).then((
              r
            ) => r.status)
        )
      )
      expect(statuses.filter((s) => s === 200)).toHaveLength(5)
      expect(statuses.filter((s) => s === 429)).toHaveLength(2)
    } finally {
      await limited.stop()
    }
  })
})

describe("GET /healthz", () => {
  it("answers {\"status\":\"ok\"}", async () => {
    const res = await fetch(`${broker.url}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: "ok" })
  })
})

describe("WebSocket upgrade refusals (spec 2.3)", () => {
  it("404 for a path other than /runners/_ws", async () => {
    expect(await upgradeStatus("/runners/ws?id=a", { Authorization: `Bearer ${await fetchGrant(broker.url)}` }))
      .toBe("HTTP/1.1 404 Not Found")
  })

  it("400 without an id", async () => {
    const grant = await fetchGrant(broker.url)
    expect(await upgradeStatus("/runners/_ws", { Authorization: `Bearer ${grant}` })).toBe("HTTP/1.1 400 Bad Request")
    expect(await upgradeStatus("/runners/_ws?id=", { Authorization: `Bearer ${grant}` })).toBe(
      "HTTP/1.1 400 Bad Request"
    )
  })

  it("401 without a bearer token", async () => {
    expect(await upgradeStatus("/runners/_ws?id=a")).toBe("HTTP/1.1 401 Unauthorized")
    expect(await upgradeStatus("/runners/_ws?id=a", { Authorization: "Basic abc" })).toBe("HTTP/1.1 401 Unauthorized")
  })

  it("403 for an unknown grant", async () => {
    expect(await upgradeStatus("/runners/_ws?id=a", { Authorization: "Bearer 00ff" })).toBe("HTTP/1.1 403 Forbidden")
  })

  it("403 for a grant used once already (single use)", async () => {
    const grant = await fetchGrant(broker.url)
    const first = new WebSocket(`${broker.wsUrl}/runners/_ws?id=a`, { headers: { authorization: `Bearer ${grant}` } })
    await new Promise((resolve) => first.once("open", resolve))
    first.close()
    expect(await upgradeStatus("/runners/_ws?id=b", { Authorization: `bearer ${grant}` })).toBe(
      "HTTP/1.1 403 Forbidden"
    )
  })

  it("403 for an expired grant", async () => {
    const grant = await fetchGrant(broker.url)
    await quiet(500) // TTL is 400 ms here
    expect(await upgradeStatus("/runners/_ws?id=a", { Authorization: `Bearer ${grant}` })).toBe(
      "HTTP/1.1 403 Forbidden"
    )
  })

  it("429 past the upgrade rate limit", async () => {
    const limited = await startBroker({ rateLimitPerSecond: 2 })
    const previous = broker
    broker = limited
    try {
      const statuses = []
      for (let i = 0; i < 3; i++) statuses.push(await upgradeStatus("/runners/_ws?id=a"))
      expect(statuses).toEqual([
        "HTTP/1.1 401 Unauthorized",
        "HTTP/1.1 401 Unauthorized",
        "HTTP/1.1 429 Too Many Requests"
      ])
    } finally {
      broker = previous
      await limited.stop()
    }
  })

  it("a case-insensitive Bearer prefix is accepted", async () => {
    const grant = await fetchGrant(broker.url)
    const socket = new WebSocket(`${broker.wsUrl}/runners/_ws?id=a`, { headers: { authorization: `BEARER ${grant}` } })
    const first = await new Promise<string>((resolve, reject) => {
      socket.once("message", (data) => resolve(String(data)))
      socket.once("error", reject)
    })
    expect(JSON.parse(first)).toEqual({ type: "broker:inforequest" })
    socket.close()
  })

  it("a frame over N8N_RUNNERS_MAX_PAYLOAD closes the connection", async () => {
    const small = await startBroker({ maxPayloadBytes: 1024 })
    try {
      const runner = await ScriptedRunner.register(small)
      runner.sendRaw("x".repeat(4096))
      expect((await runner.closed).code).toBe(1009)
    } finally {
      await small.stop()
    }
  })
})

describe("task API validation", () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ["an unknown task type", { taskType: "ruby", code: "" }, /taskType expected "javascript" \| "python", got "ruby"/],
    ["missing code", { taskType: "python" }, /code is missing/],
    ["a bad node mode", { taskType: "python", code: "", nodeMode: "each" }, /nodeMode expected/],
    ["items that are not items", { taskType: "python", code: "", items: [1] }, /items\[0\] expected an item object/],
    ["an unknown field", { taskType: "python", code: "", itemz: [] }, /itemz is not a known field/],
    ["a bad id", { taskType: "python", code: "", id: "a b" }, /id must be 1-64 characters/],
    ["a non-object body", [1, 2], /Invalid task: expected/]
  ]
  for (const [what, body, message] of cases) {
    it(`400 for ${what}, naming it`, async () => {
      const res = await submit(broker, body as Record<string, unknown>)
      expect(res.status).toBe(400)
      expect(String(res.body["error"])).toMatch(message)
    })
  }

  it("400 for a body that is not JSON", async () => {
    const res = await fetch(`${broker.url}/api/tasks`, { method: "POST", body: "{" })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toMatch(/not valid JSON/)
  })

  it("404 and 405 for unknown routes and methods", async () => {
    expect((await fetch(`${broker.url}/api/nothing`)).status).toBe(404)
    expect((await fetch(`${broker.url}/api/runners`, { method: "DELETE" })).status).toBe(405)
  })

  it("GET /api/runners lists registered runners with offers and running tasks", async () => {
    const runner = await ScriptedRunner.register(broker, ["javascript", "python"])
    runner.offer("python")
    runner.offer("python")
    await quiet(100)
    const list = await (await fetch(`${broker.url}/api/runners`)).json()
    expect(list).toEqual([
      { id: runner.id, name: "Scripted Runner", types: ["javascript", "python"], openOffers: 2, runningTasks: 0 }
    ])
    runner.close()
  })
})

describe("the playground page", () => {
  it("is served at / with its files, under a policy that loads nothing from elsewhere", async () => {
    const page = await fetch(`${broker.url}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toMatch(/^text\/html/)
    expect(page.headers.get("content-security-policy")).toMatch(/default-src 'none'; script-src 'self'/)
    expect(await page.text()).toMatch(/<script type="module" src="\/playground\/playground.js">/)
    for (const [file, type] of [["playground.js", /^text\/javascript/], ["playground.css", /^text\/css/]] as const) {
      const res = await fetch(`${broker.url}/playground/${file}`)
      expect(res.status).toBe(200)
      expect(res.headers.get("content-type")).toMatch(type)
    }
    // Only the playground's own files: no way out of its folder.
    for (const path of ["/playground/..%2Fpackage.json", "/playground/missing.js", "/playground/x.exe"]) {
      expect((await fetch(`${broker.url}${path}`)).status).toBe(404)
    }
    expect((await fetch(`${broker.url}/`, { method: "POST" })).status).toBe(405)
  })

  it("GET /api/events streams the runners and tasks when they change", async () => {
    const controller = new AbortController()
    const res = await fetch(`${broker.url}/api/events`, { signal: controller.signal })
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/)
    const reader = res.body!.getReader()
    const events: Array<{ runners: Array<{ id: string; types: Array<string> }> }> = []
    const pending = (async () => {
      let text = ""
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        text += Buffer.from(value).toString("utf8")
        for (const match of text.matchAll(/event: state\ndata: (.*)\n\n/g)) events.push(JSON.parse(match[1]!))
        text = text.slice(text.lastIndexOf("\n\n") + 2)
      }
    })().catch(() => undefined)
    await expect.poll(() => events.length).toBeGreaterThan(0)
    expect(events[0]!.runners).toEqual([])
    const runner = await ScriptedRunner.register(broker, ["python"])
    await expect.poll(() => events.at(-1)?.runners.map((r) => r.types)).toEqual([["python"]])
    runner.close()
    controller.abort()
    await pending
  })
})
