import { Schema } from "effect"

/** Why a frame could not be decoded. */
export const MalformedFrameReason = Schema.Literal(
  "TooLarge",
  "InvalidUtf8",
  "InvalidJson",
  "NotAnObject",
  "MissingType",
  "UnknownType",
  "ForbiddenKey",
  "InvalidField"
)

/** Why a frame could not be decoded. */
export type MalformedFrameReason = typeof MalformedFrameReason.Type

/** A frame from the peer could not be decoded into a protocol message. */
export class MalformedFrame extends Schema.TaggedError<MalformedFrame>()("MalformedFrame", {
  /** Which side sent the frame. */
  from: Schema.Literal("broker", "runner", "worker"),
  reason: MalformedFrameReason,
  /** The frame's `type`, when it had a string one. */
  messageType: Schema.optionalWith(Schema.String, { exact: true }),
  /** Where in the message the problem is (`settings.items[2].json`). */
  path: Schema.optionalWith(Schema.String, { exact: true }),
  detail: Schema.String
}) {
  override get message(): string {
    const what = this.messageType === undefined ? `${this.from} frame` : `"${this.messageType}" message`
    const where = this.path === undefined ? "" : ` at ${this.path}`
    return `Malformed ${what}${where}: ${this.detail}`
  }
}

/** A message built by our own code could not be encoded (a bug, never user input). */
export class UnencodableMessage extends Schema.TaggedError<UnencodableMessage>()("UnencodableMessage", {
  messageType: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `Cannot encode "${this.messageType}" message: ${this.detail}`
  }
}
