# A typical Python Code node: enrich every item and log what happened.
print("received", len(_items), "items")
return [
    {
        "json": {
            **item["json"],
            "total": item["json"]["price"] * item["json"]["quantity"],
            "label": f"{item['json']['name']} x{item['json']['quantity']}",
        }
    }
    for item in _items
]
