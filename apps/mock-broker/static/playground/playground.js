// The playground: runs a snippet through the broker's task API and shows the outcome; the live
// panel follows the broker's state over server-sent events. Everything shown is user data, so it
// only ever reaches the page as text (textContent), never as markup.

const $ = (id) => document.getElementById(id)

const sampleItems = [
  { json: { name: "coffee", price: 3.5, qty: 2 } },
  { json: { name: "bagel", price: 2.25, qty: 4 } }
]

const examples = {
  javascript: [
    {
      name: "Add a total to every item",
      code:
        "return $input.all().map((item) => ({\n  json: { ...item.json, total: item.json.price * item.json.qty }\n}))"
    },
    {
      name: "Console output",
      code:
        "for (const item of $input.all()) {\n  console.log('item', item.json.name, { qty: item.json.qty })\n}\nreturn $input.all()"
    },
    {
      name: "Once for each item",
      mode: "runOnceForEachItem",
      code: "return { json: { name: $json.name.toUpperCase(), index: $itemIndex } }"
    },
    {
      name: "An error on line 3",
      code:
        "const first = $input.first().json\nif (first.qty > 1) {\n  throw new Error(`Not enough ${first.name} in stock`)\n}\nreturn [first]"
    },
    {
      name: "Refused by the analyzer (reads the environment)",
      code: "return [{ json: { secrets: process.env } }]"
    },
    {
      name: "Times out (stopped at the runner's task timeout)",
      code: "while (true) {}"
    }
  ],
  python: [
    {
      name: "Sum the items",
      code: "total = sum(i['json']['price'] * i['json']['qty'] for i in _items)\nreturn [{'json': {'total': total}}]"
    },
    {
      name: "Print",
      code: "for item in _items:\n    print('item', item['json']['name'])\nreturn _items"
    },
    {
      name: "Once for each item",
      mode: "runOnceForEachItem",
      code: "return {'name': _item['json']['name'].upper()}"
    },
    {
      name: "An error on line 2",
      code: "first = _items[0]['json']\nraise ValueError(f\"Not enough {first['name']} in stock\")"
    },
    {
      name: "Refused by the analyzer (imports os)",
      code: "import os\nreturn [{'json': {'secrets': dict(os.environ)}}]"
    },
    {
      name: "Times out (stopped at the runner's task timeout)",
      code: "while True:\n    pass"
    }
  ]
}

// ---------------------------------------------------------------------------------------------
// Editor

const code = $("code")
const gutter = $("gutter")

const renderGutter = (badLine) => {
  const lines = code.value.split("\n").length
  gutter.replaceChildren(
    ...Array.from({ length: lines }, (_, i) => {
      const li = document.createElement("li")
      li.textContent = String(i + 1)
      if (i + 1 === badLine) li.className = "bad"
      return li
    })
  )
  gutter.scrollTop = code.scrollTop
}

const markLine = (line) => {
  renderGutter(line)
  $("error-line").textContent = line === undefined ? "" : `The error is on line ${line}.`
}

code.addEventListener("input", () => markLine(undefined))
code.addEventListener("scroll", () => (gutter.scrollTop = code.scrollTop))

const fillExamples = () => {
  const language = $("language").value
  $("example").replaceChildren(
    ...examples[language].map((example, i) => {
      const option = document.createElement("option")
      option.value = String(i)
      option.textContent = example.name
      return option
    })
  )
}

const loadExample = () => {
  const example = examples[$("language").value][Number($("example").value)]
  code.value = example.code
  $("mode").value = example.mode ?? "runOnceForAllItems"
  markLine(undefined)
}

$("language").addEventListener("change", () => {
  fillExamples()
  loadExample()
})
$("example").addEventListener("change", loadExample)

// ---------------------------------------------------------------------------------------------
// Items

const itemsField = $("items")

/** The items, or why they cannot be used. */
const readItems = () => {
  let value
  try {
    value = JSON.parse(itemsField.value)
  } catch (error) {
    return { problem: `The items are not valid JSON: ${error.message}` }
  }
  if (!Array.isArray(value)) return { problem: "The items must be a JSON array, like [{\"json\": {\"a\": 1}}]." }
  const bad = value.findIndex(
    (item) =>
      typeof item !== "object" || item === null || Array.isArray(item) || typeof item.json !== "object" ||
      item.json === null || Array.isArray(item.json)
  )
  if (bad >= 0) return { problem: `Item ${bad} must be an object with a "json" object, like {"json": {"a": 1}}.` }
  return { items: value }
}

const checkItems = () => {
  const { problem } = readItems()
  $("items-problem").textContent = problem ?? ""
  itemsField.setAttribute("aria-invalid", problem === undefined ? "false" : "true")
  return problem === undefined
}
itemsField.addEventListener("input", checkItems)

// ---------------------------------------------------------------------------------------------
// Running

let running

const setRunning = (id) => {
  running = id
  $("run").disabled = id !== undefined
  $("cancel").disabled = id === undefined
  $("state").textContent = id === undefined ? "" : "Running..."
}

const cell = (value) => {
  const td = document.createElement("td")
  td.textContent = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value)
  return td
}

const renderItems = (result) => {
  const table = $("items-table")
  if (!Array.isArray(result) || result.length === 0) {
    table.replaceChildren()
    return
  }
  const columns = []
  for (const item of result) {
    for (const key of Object.keys(item?.json ?? {})) {
      if (!columns.includes(key) && columns.length < 30) columns.push(key)
    }
  }
  const head = document.createElement("thead")
  const headRow = document.createElement("tr")
  for (const name of ["#", ...columns]) {
    const th = document.createElement("th")
    th.scope = "col"
    th.textContent = name
    headRow.append(th)
  }
  head.append(headRow)
  const body = document.createElement("tbody")
  result.forEach((item, i) => {
    const row = document.createElement("tr")
    row.append(cell(String(i)), ...columns.map((key) => cell(item?.json?.[key])))
    body.append(row)
  })
  table.replaceChildren(head, body)
}

const lineOf = (error) => {
  if (typeof error?.lineNumber === "number") return error.lineNumber
  const found = /line (\d+)/.exec(`${error?.message ?? ""} ${error?.description ?? ""}`)
  return found === null ? undefined : Number(found[1])
}

const render = (outcome) => {
  const failed = outcome.status !== "success"
  $("summary").textContent = `${failed ? "Failed" : "Succeeded"} in ${outcome.durationMs ?? "?"} ms` +
    (outcome.runnerId ? ` on runner ${outcome.runnerId}` : "")
  $("error").hidden = !failed
  $("error-message").textContent = failed ? String(outcome.error?.message ?? "Unknown error") : ""
  $("error-description").textContent = failed ? String(outcome.error?.description ?? "") : ""
  markLine(failed ? lineOf(outcome.error) : undefined)
  renderItems(outcome.result)
  $("result-json").textContent = JSON.stringify(failed ? outcome.error : outcome.result, null, 2)
  $("console").replaceChildren(
    ...(outcome.logs ?? []).map((args) => {
      const li = document.createElement("li")
      li.textContent = args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ")
      return li
    })
  )
}

$("task").addEventListener("submit", async (event) => {
  event.preventDefault()
  if (running !== undefined || !checkItems()) return
  const id = `pg-${Math.random().toString(36).slice(2, 12)}`
  setRunning(id)
  $("summary").textContent = "Running..."
  try {
    const response = await fetch("/api/tasks", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        id,
        taskType: $("language").value,
        code: code.value,
        nodeMode: $("mode").value,
        items: readItems().items,
        continueOnFail: $("continue-on-fail").checked,
        nodeName: "Code"
      })
    })
    const body = await response.json().catch(() => ({}))
    if (!response.ok) {
      render({ status: "error", error: { message: body.error ?? body.message ?? `HTTP ${response.status}` }, logs: [] })
    } else {
      render(body)
    }
  } catch (error) {
    render({ status: "error", error: { message: `The broker could not be reached: ${error.message}` }, logs: [] })
  } finally {
    setRunning(undefined)
  }
})

$("cancel").addEventListener("click", async () => {
  if (running === undefined) return
  $("state").textContent = "Cancelling..."
  await fetch(`/api/tasks/${encodeURIComponent(running)}/cancel`, { method: "POST" }).catch(() => undefined)
})

// Ctrl+Enter (or Cmd+Enter) runs from anywhere in the form.
$("task").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault()
    $("task").requestSubmit()
  }
})

// ---------------------------------------------------------------------------------------------
// Live panel

const renderRunners = (runners) => {
  $("runners").tBodies[0].replaceChildren(
    ...runners.map((runner) => {
      const row = document.createElement("tr")
      row.append(
        cell(runner.name),
        cell(runner.id),
        cell(runner.types.join(", ")),
        cell(runner.sandbox ?? "not said"),
        cell(String(runner.openOffers)),
        cell(String(runner.runningTasks))
      )
      return row
    })
  )
}

const renderTasks = (tasks) => {
  const recent = [...tasks].sort((a, b) => b.submittedAt.localeCompare(a.submittedAt)).slice(0, 20)
  $("tasks").tBodies[0].replaceChildren(
    ...recent.map((task) => {
      const row = document.createElement("tr")
      const outcome = cell(task.error ? `${task.status}: ${task.error}` : task.status)
      outcome.className = `outcome-${task.status}`
      row.append(
        cell(new Date(task.submittedAt).toLocaleTimeString()),
        cell(task.taskType),
        outcome,
        cell(task.durationMs === null ? "" : `${task.durationMs} ms`)
      )
      return row
    })
  )
}

const events = new EventSource("/api/events")
events.addEventListener("state", (event) => {
  const { runners, tasks } = JSON.parse(event.data)
  $("live-state").textContent = "live"
  renderRunners(runners)
  renderTasks(tasks)
})
events.addEventListener("error", () => ($("live-state").textContent = "reconnecting..."))

// ---------------------------------------------------------------------------------------------

itemsField.value = JSON.stringify(sampleItems, null, 2)
fillExamples()
loadExample()
checkItems()
