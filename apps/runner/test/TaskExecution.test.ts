import { describe, expect, it } from "@effect/vitest"
import { helperCall } from "../src/TaskExecution.js"

describe("helper calls from a task's child", () => {
  it("only the helpers the broker serves go out; anything else is refused here", async () => {
    const sent: Array<string> = []
    const call = helperCall({
      rpc: (name) => {
        sent.push(name)
        return Promise.resolve({ status: "success" as const, data: "answered" })
      }
    })
    expect(await call("helpers.httpRequest", [{ url: "http://example.test" }])).toEqual({
      status: "success",
      data: "answered"
    })
    // A child that escaped its own checks could ask for anything: the runner does not pass it on.
    for (const name of ["helpers.getSSHClient", "evaluateExpression", "logNodeOutput", "__proto__", ""]) {
      expect(await call(name, [])).toEqual({ status: "error", data: "Method not allowed" })
    }
    expect(sent).toEqual(["helpers.httpRequest"])
  })
})
