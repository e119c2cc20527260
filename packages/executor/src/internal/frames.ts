/** Length-prefixed frames (4-byte big-endian length, then the bytes), as on the child pipe (spec 7.4). */

/** The largest frame the 4-byte prefix can announce. */
export const maxFrameBytes = 2 ** 32 - 1

/** One frame: header and body, ready to write. */
export const encodeFrame = (body: string | Buffer): Buffer => {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body
  const header = Buffer.allocUnsafe(4)
  header.writeUInt32BE(bytes.length, 0)
  return Buffer.concat([header, bytes])
}

/** What a reader does with an announced frame length: read it, or give up on the stream. */
export type LengthCheck = (length: number) => string | undefined

/**
 * Reassembles frames from stream chunks. Chunks are kept as a list and joined once per frame, so
 * a 25 MB result costs one copy. `check` can refuse a frame by its announced length before any
 * of it is buffered. Each frame is handed over as soon as it is complete — before the next one's
 * length is checked, so what a frame says (a result follows) can decide the next one's limit.
 */
export class FrameReader {
  private readonly chunks: Array<Buffer> = []
  private buffered = 0
  private expected: number | undefined
  private failed: string | undefined

  constructor(private readonly check: LengthCheck = () => undefined) {}

  /**
   * Adds a chunk and hands each frame it completes to `onFrame` (which returns false to stop
   * reading: the stream is broken). Returns the refusal of a frame's length, if one came.
   */
  push(chunk: Buffer, onFrame: (frame: Buffer) => boolean): string | undefined {
    if (this.failed !== undefined) return this.failed
    this.chunks.push(chunk)
    this.buffered += chunk.length
    for (;;) {
      if (this.expected === undefined) {
        if (this.buffered < 4) return undefined
        const length = this.take(4).readUInt32BE(0)
        const refusal = this.check(length)
        if (refusal !== undefined) {
          this.failed = refusal
          return refusal
        }
        this.expected = length
      }
      if (this.buffered < this.expected) return undefined
      const frame = this.take(this.expected)
      this.expected = undefined
      if (onFrame(frame) === false) {
        this.failed = "stopped"
        return undefined
      }
    }
  }

  private take(count: number): Buffer {
    const first = this.chunks[0]
    let out: Buffer
    if (first !== undefined && first.length >= count) {
      out = first.subarray(0, count)
      if (first.length === count) this.chunks.shift()
      else this.chunks[0] = first.subarray(count)
    } else {
      const joined = Buffer.concat(this.chunks, this.buffered)
      out = joined.subarray(0, count)
      this.chunks.length = 0
      if (joined.length > count) this.chunks.push(joined.subarray(count))
    }
    this.buffered -= count
    return out
  }
}
