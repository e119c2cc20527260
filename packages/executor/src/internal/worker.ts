import { MessageCodec } from "@taskrunner/protocol"
import type { WorkerMessage } from "@taskrunner/protocol"
import { Either } from "effect"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import type { Readable, Writable } from "node:stream"
import { exitOf, killTree } from "../ProcessTree.js"
import type { Command } from "../Sandbox.js"
import { encodeFrame, FrameReader } from "./frames.js"

/** How a child process ended. */
export interface WorkerExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** The last bytes it wrote to stderr. */
  readonly stderr: string
  /** True when the runner killed it (deadline, cancel, shutdown). */
  readonly killedByUs: boolean
}

/** What a worker reports while it runs a task. */
export type WorkerEvent =
  | { readonly _tag: "Message"; readonly message: WorkerMessage.FromWorker }
  /** The raw result JSON that follows a successful `done`. */
  | { readonly _tag: "Result"; readonly json: Buffer }
  /** The child broke the channel protocol (malformed or oversized frame): it is killed. */
  | { readonly _tag: "Broken"; readonly reason: string; readonly tooLarge?: number }

const stderrTailBytes = 8 * 1024
/** Messages (not result payloads) are small; a child announcing a huge one is misbehaving. */
const maxMessageBytes = 4 * 1024 * 1024

/**
 * One child process in a jail, with its framed channel on fd 3. Everything the child sends is
 * length-checked and schema-checked before the runner looks at it.
 */
export class WorkerProcess {
  readonly ready: Promise<void>
  readonly exited: Promise<WorkerExit>
  tasksRun = 0
  /** Whether the child answered its current task with `done` (it is in a known state). */
  answered = false
  private readonly child: ChildProcess
  private readonly channel: Readable & Writable
  private listener: ((event: WorkerEvent) => void) | undefined
  private readonly backlog: Array<WorkerEvent> = []
  private stderr = ""
  private killedByUs = false
  private expectResult = false
  private exitInfo: WorkerExit | undefined

  private constructor(command: Command, maxResultBytes: number) {
    this.child = spawn(command.file, [...command.args], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
      env: {},
      // Its own process group, so a kill reaches everything the jail started.
      detached: true
    })
    this.channel = this.child.stdio[3] as Readable & Writable
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-stderrTailBytes)
    })
    let markReady: (() => void) | undefined
    let failReady: ((exit: WorkerExit) => void) | undefined
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve
      failReady = reject
    })
    this.ready.catch(() => {})
    // The frame after a successful `done` is the result, with the result's limit.
    const reader = new FrameReader((length) => {
      const limit = this.expectResult ? maxResultBytes : maxMessageBytes
      return length > limit ? `a ${length}-byte frame is over the ${limit}-byte limit` : undefined
    })
    let isReady = false
    this.channel.on("data", (chunk: Buffer) => {
      const refused = reader.push(chunk, (frame) => {
        if (this.expectResult) {
          this.expectResult = false
          this.emit({ _tag: "Result", json: frame })
          return true
        }
        const decoded = MessageCodec.decodeFromWorker(frame)
        if (Either.isLeft(decoded)) {
          this.emit({ _tag: "Broken", reason: decoded.left.message })
          void this.kill()
          return false
        }
        const message = decoded.right
        if (message.type === "ready" && !isReady) {
          isReady = true
          markReady?.()
          return true
        }
        if (message.type === "done" && message.ok) this.expectResult = true
        this.emit({ _tag: "Message", message })
        return true
      })
      if (refused !== undefined) {
        const tooLarge = /^a (\d+)-byte frame/.exec(refused)
        this.emit({
          _tag: "Broken",
          reason: refused,
          ...(this.expectResult && tooLarge ? { tooLarge: Number(tooLarge[1]) } : {})
        })
        void this.kill()
      }
    })
    this.channel.on("error", () => {
      // The child went away; its exit tells why.
    })
    this.child.on("error", (error) => {
      this.stderr += `\n${error.message}`
    })
    this.exited = exitOf(this.child).then(({ code, signal }) => {
      this.exitInfo = { code, signal, stderr: this.stderr, killedByUs: this.killedByUs }
      if (!isReady) failReady?.(this.exitInfo)
      return this.exitInfo
    })
  }

  /** Starts a child; `ready` resolves when its bootstrap is loaded and waiting. */
  static spawn(command: Command, maxResultBytes: number): WorkerProcess {
    return new WorkerProcess(command, maxResultBytes)
  }

  get alive(): boolean {
    return this.exitInfo === undefined && !this.killedByUs
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  /** Receives events from now on (including any that arrived before). */
  listen(listener: ((event: WorkerEvent) => void) | undefined): void {
    this.listener = listener
    if (listener !== undefined) { for (const event of this.backlog.splice(0)) listener(event) }
  }

  private emit(event: WorkerEvent) {
    if (this.listener !== undefined) this.listener(event)
    else this.backlog.push(event)
  }

  /** Sends a message, then raw frames (e.g. the items JSON). */
  send(message: WorkerMessage.ToWorker, raw: ReadonlyArray<string | Uint8Array> = []): void {
    const encoded = MessageCodec.writeToWorker(message)
    if (Either.isLeft(encoded)) throw new Error(encoded.left.message)
    // One write for the message and its frames: one system call, one wake-up of the child.
    this.channel.cork()
    this.channel.write(encodeFrame(encoded.right))
    for (const body of raw) {
      this.channel.write(
        encodeFrame(typeof body === "string" ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength))
      )
    }
    this.channel.uncork()
  }

  /** Closes the channel: the child exits on its own (it has nothing left to do). */
  retire(): void {
    this.channel.end()
  }

  /** SIGTERM to the process tree, SIGKILL one second later; resolves when it is gone. */
  kill(graceMs = 1000): Promise<WorkerExit> {
    if (this.exitInfo !== undefined) return this.exited
    this.killedByUs = true
    return killTree(this.child.pid, this.exited, graceMs)
  }
}
