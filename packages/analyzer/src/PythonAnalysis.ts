import { AnalysisFailed, CodeSyntaxError, SecurityViolation } from "@taskrunner/protocol"
import type { Finding } from "@taskrunner/protocol"
import { spawn } from "node:child_process"
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** What Python the analyser lets through (spec 7.7). */
export interface PythonPolicy {
  /** `N8N_RUNNERS_STDLIB_ALLOW`: `*` or module names. */
  readonly stdlibAllow: "*" | ReadonlyArray<string>
  /** `N8N_RUNNERS_EXTERNAL_ALLOW`: `*` or package names. */
  readonly externalAllow: "*" | ReadonlyArray<string>
  /** The interpreter that will run the code (the helper parses with its `ast`). */
  readonly pythonPath: string
  readonly maxCodeLength: number
  /** Longest a single analysis may take before the helper is restarted and the code refused. */
  readonly timeoutMs: number
}

/** A Python verdict (Python tasks need no data request). */
export type PythonVerdict =
  | { readonly _tag: "Accepted" }
  | { readonly _tag: "Rejected"; readonly error: CodeSyntaxError | SecurityViolation | AnalysisFailed }

interface HelperAnswer {
  readonly id: number
  readonly verdict: "ok" | "violations" | "syntax" | "failed"
  readonly findings?: ReadonlyArray<{ readonly line: number; readonly column: number; readonly message: string }>
  readonly message?: string
  readonly line?: number
  readonly column?: number
}

/** The helper script, next to this module (sources and `dist/`, or a bundle's `python/` folder). */
export const pythonAnalyzerScript = (): string | undefined =>
  [new URL("./python/task_analyzer.py", import.meta.url), new URL("../dist/python/task_analyzer.py", import.meta.url)]
    .map((u) => fileURLToPath(u))
    .find((path) => existsSync(path))

const frame = (payload: string) => {
  const body = Buffer.from(payload, "utf8")
  const header = Buffer.allocUnsafe(4)
  header.writeUInt32BE(body.length, 0)
  return Buffer.concat([header, body])
}

const toVerdict = (answer: HelperAnswer): PythonVerdict => {
  switch (answer.verdict) {
    case "ok":
      return { _tag: "Accepted" }
    case "violations":
      return {
        _tag: "Rejected",
        error: SecurityViolation.fromFindings(
          (answer.findings ?? []).map((f): Finding => ({
            line: f.line,
            column: f.column,
            rule: "python",
            message: f.message
          }))
        )
      }
    case "syntax":
      return {
        _tag: "Rejected",
        error: new CodeSyntaxError({
          message: answer.message ?? "invalid syntax",
          ...(answer.line === undefined ? {} : { lineNumber: answer.line }),
          ...(answer.column === undefined ? {} : { column: answer.column })
        })
      }
    case "failed":
      return {
        _tag: "Rejected",
        error: new AnalysisFailed({ message: answer.message ?? "The code could not be analysed." })
      }
  }
}

const failed = (message: string): PythonVerdict => ({ _tag: "Rejected", error: new AnalysisFailed({ message }) })

/**
 * The long-lived CPython helper. Requests are multiplexed by id; a helper that dies or does not
 * answer in time is killed, its pending requests are refused (fail closed), and the next request
 * starts a new one.
 */
export class PythonAnalyzerHelper {
  private child: ChildProcessWithoutNullStreams | undefined
  private readonly pending = new Map<
    number,
    { readonly resolve: (v: PythonVerdict) => void; readonly timer: NodeJS.Timeout }
  >()
  private nextId = 1
  private buffer = Buffer.alloc(0)
  private stderr = ""
  restarts = 0

  constructor(private readonly policy: PythonPolicy, private readonly script: string) {}

  private start(): ChildProcessWithoutNullStreams {
    // -I: isolated (no environment, no user site, no cwd on the path); -B: no bytecode files.
    const child = spawn(this.policy.pythonPath, ["-I", "-B", this.script], { env: {}, stdio: ["pipe", "pipe", "pipe"] })
    child.stdout.on("data", (chunk: Buffer) => this.receive(chunk))
    child.stderr.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-4096)
    })
    child.on("error", (error) => this.abandon(child, `The Python analyser could not start: ${error.message}`))
    child.on(
      "close",
      (code, signal) =>
        this.abandon(
          child,
          `The Python analyser stopped unexpectedly (${signal ?? `exit ${code}`})${
            this.stderr.trim() === "" ? "" : `: ${this.stderr.trim().split("\n").at(-1)}`
          }`
        )
    )
    child.stdin.on("error", () => {})
    return child
  }

  private receive(chunk: Buffer) {
    this.buffer = Buffer.concat([this.buffer, chunk])
    while (this.buffer.length >= 4) {
      const length = this.buffer.readUInt32BE(0)
      if (this.buffer.length < 4 + length) return
      const body = this.buffer.subarray(4, 4 + length).toString("utf8")
      this.buffer = this.buffer.subarray(4 + length)
      let answer: HelperAnswer
      try {
        answer = JSON.parse(body) as HelperAnswer
      } catch {
        continue
      }
      const waiting = this.pending.get(answer.id)
      if (waiting === undefined) continue
      this.pending.delete(answer.id)
      clearTimeout(waiting.timer)
      waiting.resolve(toVerdict(answer))
    }
  }

  /** Refuses everything the helper still owed, and forgets it. */
  private abandon(child: ChildProcessWithoutNullStreams, reason: string) {
    if (this.child !== child) return
    this.child = undefined
    this.buffer = Buffer.alloc(0)
    this.restarts++
    child.kill("SIGKILL")
    for (const [id, waiting] of this.pending) {
      clearTimeout(waiting.timer)
      waiting.resolve(failed(reason))
      this.pending.delete(id)
    }
  }

  analyze(code: string): Promise<PythonVerdict> {
    if (code.length > this.policy.maxCodeLength) {
      return Promise.resolve(
        failed(
          `The code is ${code.length} characters long; the limit is ${this.policy.maxCodeLength}. Split it across several Code nodes.`
        )
      )
    }
    const child = this.child ?? (this.child = this.start())
    const id = this.nextId++
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => this.abandon(child, `The Python analyser did not answer within ${this.policy.timeoutMs} ms`),
        this.policy.timeoutMs
      )
      this.pending.set(id, { resolve, timer })
      child.stdin.write(frame(JSON.stringify({
        id,
        code,
        stdlib: this.policy.stdlibAllow,
        external: this.policy.externalAllow,
        maxLength: this.policy.maxCodeLength
      })))
    })
  }

  /** The helper's process id (tests kill it to prove the restart). */
  get pid(): number | undefined {
    return this.child?.pid
  }

  close(): void {
    const child = this.child
    if (child !== undefined) {
      this.abandon(child, "The Python analyser was shut down")
    }
  }
}
