"""Keys: the presenter's keyboard, sent to the server as key presses.

An invisible component that listens to the whole page's keydown events and reports the ones
the presenter layout uses as `press` = "<key> <count>" (the count makes a repeated key a new
value): "space", "s", "left", "right". Typing into a text field, a number box or a menu is
left alone, and so are keys with Ctrl, Alt or Meta (the browser's own shortcuts). A focused
button does not also take the space bar: the press is ours, and the button loses focus.
"""

from __future__ import annotations

import param
from panel.custom import JSComponent

KEYS = ("space", "s", "left", "right")


class Keys(JSComponent):
    """See the module docstring; watch `press` and read the key with key_of()."""

    press = param.String(default="")

    _esm = """
    const NAMES = {" ": "space", "s": "s", "S": "s", "ArrowLeft": "left", "ArrowRight": "right"}
    const TYPING = new Set(["input", "textarea", "select"])
    let count = 0
    export function render({ model, el }) {
      const onKey = (e) => {
        if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return
        const name = NAMES[e.key]
        if (!name) return
        const target = (e.composedPath && e.composedPath()[0]) || e.target
        const tag = ((target && target.tagName) || "").toLowerCase()
        if (TYPING.has(tag) || (target && target.isContentEditable)) return
        e.preventDefault()
        if (tag === "button" && target.blur) target.blur()
        count += 1
        model.press = name + " " + count
      }
      document.addEventListener("keydown", onKey)
      model.on("remove", () => document.removeEventListener("keydown", onKey))
      const marker = document.createElement("div")
      marker.className = "cp-keys"
      return marker
    }
    """


def key_of(press):
    """The key name of a `press` value ("space 3" -> "space"); "" for anything else."""
    name = (press or "").split(" ", 1)[0]
    return name if name in KEYS else ""
