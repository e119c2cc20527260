import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ensureOfficialRunner, officialRunnerVersion } from "@taskrunner/compat"
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { Server } from "node:http"
import { authToken, cleanup, runnersReady, startBroker, Started, startRunner, submit } from "../test/harness.js"
import type { Broker, Outcome } from "../test/harness.js"
import { httpPlaceholder, runData, snippets, workflow } from "./snippets.js"
import type { Snippet } from "./snippets.js"

/**
 * The proof that our JavaScript API behaves like n8n's: every snippet runs on n8n's official
 * runner (`@n8n/task-runner`, pinned) and on ours, each behind its own mock broker, and both
 * must answer the same.
 */
let official: Broker
let ours: Broker
let http: Server
let httpUrl = ""

/** What `helpers.httpRequest` calls: JSON echo, plain text, and a 404. */
const startHttp = () =>
  new Promise<void>((resolve) => {
    http = createServer((req, res) => {
      let body = ""
      req.on("data", (chunk) => (body += String(chunk)))
      req.on("end", () => {
        if (req.url?.startsWith("/orders")) {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify({ method: req.method, url: req.url, received: JSON.parse(body || "null") }))
        } else if (req.url === "/text") {
          res.writeHead(200, { "content-type": "text/plain" })
          res.end("plain answer")
        } else {
          res.writeHead(404, { "content-type": "text/plain" })
          res.end("not here")
        }
      })
    })
    http.listen(0, "127.0.0.1", () => {
      httpUrl = `http://127.0.0.1:${(http.address() as { port: number }).port}`
      resolve()
    })
  })

const grant = async (url: string) => {
  const res = await fetch(`${url}/runners/auth`, { method: "POST", body: JSON.stringify({ token: authToken }) })
  return ((await res.json()) as { data: { token: string } }).data.token
}

beforeAll(async () => {
  const start = ensureOfficialRunner()
  await startHttp()
  ;[official, ours] = await Promise.all([startBroker(), startBroker()])
  const runner = new Started(spawn(process.execPath, [start], {
    env: {
      PATH: process.env["PATH"] ?? "",
      HOME: process.env["HOME"] ?? "/tmp",
      N8N_RUNNERS_GRANT_TOKEN: await grant(official!.url),
      N8N_RUNNERS_TASK_BROKER_URI: official!.url,
      N8N_RUNNERS_MAX_CONCURRENCY: "2",
      GENERIC_TIMEZONE: "Europe/Berlin"
    }
  }))
  void runner
  startRunner(ours!, { N8N_RUNNERS_MAX_CONCURRENCY: "2", GENERIC_TIMEZONE: "Europe/Berlin" })
  await Promise.all([runnersReady(official!), runnersReady(ours!)])
}, 120_000)

afterAll(async () => {
  http?.close()
  await cleanup()
})

const body = (snippet: Snippet) => ({
  taskType: "javascript",
  code: snippet.code.replaceAll(httpPlaceholder, httpUrl),
  nodeMode: snippet.nodeMode ?? "runOnceForAllItems",
  continueOnFail: snippet.continueOnFail ?? false,
  items: snippet.items ??
    runData["Set Fields"].map((item, index) => ({ json: item.json, pairedItem: { item: index } })),
  workflow,
  runData,
  previousNode: "Set Fields",
  env: snippet.env ?? {},
  ...snippet.submission
})

/** What must match: the answer, the logs, custom and static data, and the error's texts. */
const comparable = (outcome: Outcome) => {
  const error = outcome.error as Record<string, unknown> | undefined
  const extra = outcome as unknown as { customData?: unknown; staticData?: unknown }
  return {
    status: outcome.status,
    result: outcome.result,
    logs: outcome.logs,
    customData: extra.customData,
    staticData: extra.staticData,
    error: error === undefined ? undefined : {
      message: error["message"],
      description: error["description"],
      lineNumber: error["lineNumber"],
      itemIndex: error["itemIndex"]
    }
  }
}

const report: Array<unknown> = []

describe(`our runner against n8n's official runner ${officialRunnerVersion}`, () => {
  it(`has at least 40 snippets`, () => {
    expect(snippets.length).toBeGreaterThanOrEqual(40)
  })

  for (const snippet of snippets) {
    it(snippet.name, async () => {
      const [theirs, mine] = await Promise.all([submit(official, body(snippet)), submit(ours, body(snippet))])
      report.push({ name: snippet.name, theirs: comparable(theirs), mine: comparable(mine) })
      writeFileSync("/tmp/diff-report.json", JSON.stringify(report, null, 1))
      expect(comparable(mine)).toEqual(comparable(theirs))
    })
  }
})
