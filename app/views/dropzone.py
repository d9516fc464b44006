"""FileDrop: the upload widget of the image view and of the snapshots view.

A drop zone (drag a file onto it, or click it to browse) that sends one file to the server in
CHUNK_BYTES pieces, each one websocket message under the server's limit. The browser refuses a
file over `max_bytes` before sending a byte of it and says so in the zone ("File is too large
— the largest accepted is 100 MB"); the browser never decodes the file (a 20000x20000 image is
only bytes to it). The server counts as well: a client that ignores the limit gets its bytes
dropped and a message in `refused` (watch it with onlychanged=False; it may repeat).

Why not Panel's FileDropper: its FilePond runs a requestAnimationFrame loop 60 times a second
for as long as the page is open, a large share of the browser's CPU on the dashboard and so of
the 2 cores training runs on (docs/BENCHMARKS.md, "Upload drop zone instead of Panel's
FileDropper"). This zone does nothing until a file comes.
"""

from __future__ import annotations

import param
from panel.custom import JSComponent

from ..images import MAX_UPLOAD_BYTES, megabytes

CHUNK_BYTES = 10_000_000  # the largest websocket message an upload sends


class FileDrop(JSComponent):
    """FileInput's API for one file: `filename`, and `value` as bytes, set together when the
    last chunk is in (the same file again is a new upload: watch with onlychanged=False)."""

    accept = param.String(default="", doc="The file dialog's filter, e.g. 'image/*'; drops are not filtered.")
    max_bytes = param.Integer(default=MAX_UPLOAD_BYTES, bounds=(1, None), doc="Largest file accepted.")
    limit = param.String(default="", doc="max_bytes as the page says it.")
    chunk_bytes = param.Integer(default=CHUNK_BYTES, bounds=(1, None))
    disabled = param.Boolean(default=False)
    filename = param.String(default=None, allow_None=True, doc="Name of the last complete upload.")
    value = param.Parameter(default=None, doc="Bytes of the last complete upload.")
    refused = param.String(default="", doc="Why the last upload was dropped by the server.")

    _rename = {"filename": None, "value": None, "refused": None}  # the server's alone, never sent

    _stylesheets = [
        """
        .cp-drop { display: flex; flex-direction: column; align-items: center; justify-content: center;
          gap: 4px; min-height: 64px; padding: 10px; box-sizing: border-box; border-radius: 8px;
          background: #f1f0ef; border: 2px dashed #c9ccd1; color: #344054; cursor: pointer;
          font-size: 15px; text-align: center; }
        .cp-drop.over { border-color: #1f4e8c; background: #e8eef7; }
        .cp-drop.disabled { opacity: .55; cursor: not-allowed; }
        .cp-drop input { display: none; }
        .cp-drop-pick { text-decoration: underline; }
        .cp-drop-status { font-size: 13px; color: #475467; overflow-wrap: anywhere; }
        .cp-drop[data-state=refused] .cp-drop-status { color: #b42318; font-weight: 600; }
        """
    ]

    _esm = """
    export function render({ model, el }) {
      const zone = document.createElement("label")
      zone.className = "cp-drop"
      const input = document.createElement("input")
      input.type = "file"
      const text = document.createElement("span")
      text.innerHTML = 'Drag &amp; drop a file here or <span class="cp-drop-pick">browse</span>'
      const status = document.createElement("span")
      status.className = "cp-drop-status"
      zone.append(input, text, status)
      let busy = false
      const say = (line, state) => { status.textContent = line; zone.dataset.state = state }
      const sync = () => {
        input.accept = model.accept
        input.disabled = model.disabled
        zone.classList.toggle("disabled", model.disabled)
      }
      async function send(file) {
        if (busy || model.disabled) return
        if (file.size > model.max_bytes) {
          say(file.name + ": File is too large — the largest accepted is " + model.limit, "refused")
          return
        }
        busy = true
        const size = model.chunk_bytes
        const n = Math.floor(file.size / size) + 1  // one more, possibly empty, chunk: empty files too
        try {
          for (let i = 0; i < n; i++) {
            const data = await file.slice(i * size, Math.min(file.size, (i + 1) * size)).arrayBuffer()
            model.send_msg({name: file.name, chunk: i + 1, total_chunks: n, data: data})
            if (n > 1) say(file.name + ": sending, " + Math.round(100 * (i + 1) / n) + "%", "sending")
          }
          say(file.name + ": sent", "sent")
        } catch (err) {
          say(file.name + ": could not be read (" + err + ")", "refused")
        }
        busy = false
      }
      input.addEventListener("change", () => {
        const file = input.files[0]
        input.value = ""  // picking the same file again is a new upload
        if (file) send(file)
      })
      zone.addEventListener("dragover", (e) => { e.preventDefault(); if (!model.disabled) zone.classList.add("over") })
      zone.addEventListener("dragleave", () => zone.classList.remove("over"))
      zone.addEventListener("drop", (e) => {
        e.preventDefault()
        zone.classList.remove("over")
        const file = e.dataTransfer && e.dataTransfer.files[0]
        if (file) send(file)
      })
      model.on(["accept", "disabled"], sync)
      model.on("msg:custom", (msg) => say(msg.said, msg.state))  // the server's word on the file
      sync()
      return zone
    }
    """

    def __init__(self, **params):
        super().__init__(**params)
        self.limit = megabytes(self.max_bytes)
        self.param.watch(lambda e: setattr(self, "limit", megabytes(e.new)), "max_bytes")
        self._upload = None  # (name, parts, bytes so far) of the file arriving

    def _handle_msg(self, data):
        if not isinstance(data, dict):
            return
        name, chunk, part = data.get("name") or "the file", data.get("chunk"), data.get("data") or b""
        if isinstance(part, (bytearray, memoryview)):
            part = bytes(part)
        if chunk == 1:
            self._upload = (name, [], 0)
        if self._upload is None or self._upload[0] != name or not isinstance(part, bytes):
            return  # the rest of a dropped upload
        parts, size = self._upload[1], self._upload[2] + len(part)
        if size > self.max_bytes:
            self._upload = None
            why = "%s is over %s, the largest file accepted" % (name, megabytes(self.max_bytes))
            self.param.update(refused=why)
            self._send_msg({"said": why, "state": "refused"})
            return
        parts.append(part)
        self._upload = (name, parts, size)
        if chunk == data.get("total_chunks"):
            self._upload = None
            self.param.update(filename=name, value=b"".join(parts))
            self._send_msg({"said": name + ": received", "state": "received"})
