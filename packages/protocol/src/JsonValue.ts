import { Schema } from "effect"
import { jsonArbitrary } from "./internal/json.js"

/**
 * Arbitrary JSON that the protocol passes through untouched (n8n's opaque payloads). Decoding keeps
 * the reference, so large payloads cost nothing beyond `JSON.parse`.
 */
export const JsonValue = Schema.Unknown.annotations({
  identifier: "JsonValue",
  arbitrary: () => (fc) => jsonArbitrary(fc)
})

/** A JSON object with arbitrary values. */
export const JsonObject = Schema.Record({ key: Schema.String, value: JsonValue }).annotations({
  identifier: "JsonObject"
})

/** A JSON object with arbitrary values. */
export type JsonObject = typeof JsonObject.Type
