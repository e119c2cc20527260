import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { existsSync, mkdirSync } from "node:fs"
import { chromium } from "playwright-core"
import type { Browser, Page } from "playwright-core"
import { cleanup, runnersReady, startBroker, startRunner } from "./harness.js"
import type { Broker } from "./harness.js"

/**
 * The mock broker's playground page in a real browser (Debian's Chromium driven by
 * playwright-core) against a real broker and runner: a JavaScript and a Python snippet run and
 * show their items and console lines, an analyser refusal and a timeout are rendered, and the
 * runner shows in the live panel. A screenshot is kept in `test-results/`.
 */

const chromiumPath = "/usr/bin/chromium"
const artifacts = new URL("../test-results/", import.meta.url).pathname

let broker: Broker
let browser: Browser
let page: Page

beforeAll(async () => {
  broker = await startBroker()
  startRunner(broker, { N8N_RUNNERS_TASK_TIMEOUT: "3", N8N_RUNNERS_MAX_CONCURRENCY: "2" })
  await runnersReady(broker)
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
  })
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
  page.on("pageerror", (error) => {
    throw error
  })
  await page.goto(broker.url)
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await cleanup()
})

/** Picks a language and one of its examples by name, then runs it and waits for the outcome. */
const runExample = async (language: "javascript" | "python", example: string) => {
  await page.getByLabel("Language").selectOption(language)
  await page.getByLabel("Example").selectOption({ label: example })
  await page.getByRole("button", { name: "Run" }).click()
  await expect.poll(() => page.locator("#summary").textContent(), { timeout: 30_000 }).toMatch(
    /^(Succeeded|Failed) in \d+ ms/
  )
  return (await page.locator("#summary").textContent()) ?? ""
}

describe.runIf(existsSync(chromiumPath))("the playground in a browser", () => {
  it("shows the connected runner, its task types and isolation tier, live", async () => {
    const row = page.locator("#runners tbody tr").first()
    await expect.poll(() => row.textContent(), { timeout: 15_000 }).toMatch(/javascript, python/)
    expect(await row.textContent()).toMatch(/bwrap|unshare|none/)
    expect(await page.locator("#live-state").textContent()).toBe("live")
  })

  it("runs JavaScript: the result rows and the console lines", async () => {
    expect(await runExample("javascript", "Console output")).toMatch(/^Succeeded/)
    const rows = page.locator("#items-table tbody tr")
    expect(await rows.count()).toBe(2)
    expect(await rows.nth(0).textContent()).toContain("coffee")
    expect(await page.locator("#console li").allTextContents()).toEqual([
      "'item' 'coffee' {\"qty\":2}",
      "'item' 'bagel' {\"qty\":4}"
    ])
  })

  it("runs Python: the result rows and the printed lines", async () => {
    expect(await runExample("python", "Print")).toMatch(/^Succeeded/)
    expect(await page.locator("#items-table tbody tr").count()).toBe(2)
    expect(await page.locator("#console li").allTextContents()).toEqual(["'item' 'coffee'", "'item' 'bagel'"])
  })

  it("an error highlights its line in the editor", async () => {
    expect(await runExample("javascript", "An error on line 3")).toMatch(/^Failed/)
    expect(await page.locator("#error-message").textContent()).toBe("Not enough coffee in stock [line 3]")
    expect(await page.locator("#gutter li.bad").textContent()).toBe("3")
  })

  it("renders a security rejection by the analyser", async () => {
    expect(await runExample("javascript", "Refused by the analyzer (reads the environment)")).toMatch(/^Failed/)
    expect(await page.locator("#error-message").textContent()).toBe("Security violations detected")
    expect(await page.locator("#error-description").textContent()).toMatch(/process/)
  })

  it("renders a timeout", async () => {
    expect(await runExample("javascript", "Times out (stopped at the runner's task timeout)")).toMatch(/^Failed/)
    expect(await page.locator("#error-message").textContent()).toBe("Task execution timed out after 3 seconds")
  })

  it("cancels a running task", async () => {
    await page.getByLabel("Example").selectOption({ label: "Times out (stopped at the runner's task timeout)" })
    await page.getByRole("button", { name: "Run" }).click()
    await expect.poll(() => page.getByRole("button", { name: "Cancel" }).isEnabled()).toBe(true)
    await page.getByRole("button", { name: "Cancel" }).click()
    await expect.poll(() => page.locator("#error-message").textContent(), { timeout: 10_000 }).toMatch(/cancel/i)
  })

  it("says what is wrong with the items, and shows user data as text, never as markup", async () => {
    await page.getByLabel(/Input items/).fill("[{\"json\": ")
    expect(await page.locator("#items-problem").textContent()).toMatch(/^The items are not valid JSON/)
    await page.getByLabel(/Input items/).fill("[{\"json\": {\"name\": \"<img src=x onerror=alert(1)>\"}}]")
    expect(await page.locator("#items-problem").textContent()).toBe("")
    await page.getByLabel("Language").selectOption("javascript")
    await page.getByLabel("Example").selectOption({ label: "Add a total to every item" })
    await page.getByRole("button", { name: "Run" }).click()
    await expect.poll(() => page.locator("#items-table tbody tr").first().textContent()).toContain(
      "<img src=x onerror=alert(1)>"
    )
    expect(await page.locator("#items-table img").count()).toBe(0)
    // The recent tasks list has every run of this test.
    expect(await page.locator("#tasks tbody tr").count()).toBeGreaterThanOrEqual(6)
    // The artifact: an ordinary run, with everything the page shows.
    await page.getByLabel(/Input items/).fill(
      JSON.stringify([{ json: { name: "coffee", price: 3.5, qty: 2 } }, {
        json: { name: "bagel", price: 2.25, qty: 4 }
      }])
    )
    await runExample("javascript", "Console output")
    mkdirSync(artifacts, { recursive: true })
    await page.screenshot({ path: `${artifacts}playground.png`, fullPage: true })
  })
})
