// A typical Code node: enrich every item and log what happened.
const items = $input.all()
console.log("received", items.length, "items")
return items.map((item) => ({
  json: {
    ...item.json,
    total: item.json.price * item.json.quantity,
    label: `${item.json.name} x${item.json.quantity}`
  }
}))
