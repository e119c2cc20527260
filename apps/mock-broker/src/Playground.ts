import { existsSync, readFileSync } from "node:fs"
import type { ServerResponse } from "node:http"
import { fileURLToPath } from "node:url"

/**
 * The playground page (`GET /`): plain HTML, CSS and JavaScript from `static/playground/`, copied
 * beside the bundle at build time. Only those files are served, with a policy that lets the page
 * load nothing from anywhere else (the machines it runs on are often offline, and what it shows is
 * user data).
 */

const types: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml"
}

/** Next to the bundle (`dist/playground/`), or the sources' `static/playground/` in development. */
const folder = [new URL("./playground/", import.meta.url), new URL("../static/playground/", import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(`${dir}index.html`))

const cache = new Map<string, Buffer>()

const policy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")

/** Answers a request for one of the playground's files (`index.html`, `playground.js`, ...). */
export const servePlayground = (res: ServerResponse, name: string): void => {
  const type = types[name.split(".").at(-1) ?? ""]
  if (folder === undefined || type === undefined || !/^[\w-]+\.\w+$/.test(name)) {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" })
    res.end(folder === undefined ? "The playground's files are missing (build the mock broker)" : "Not found")
    return
  }
  let body = cache.get(name)
  if (body === undefined) {
    const path = `${folder}${name}`
    if (!existsSync(path)) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" })
      res.end("Not found")
      return
    }
    body = readFileSync(path)
    cache.set(name, body)
  }
  res.writeHead(200, {
    "content-type": type,
    "content-security-policy": policy,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache"
  })
  res.end(body)
}
