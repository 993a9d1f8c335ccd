"""Running the wallet's static scripts (src/paybao/web/static/*.js) under Node, and reading back
the SVGs they draw.

One Node process runs a batch of calls (spawning Node per case would dominate a test's time).
The SVGs are rasterised with Pillow so that paybao.adapters.qr.decode_image (zxing-cpp) can
read them as it reads a photo.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

STATIC = Path(__file__).parents[2] / "src" / "paybao" / "web" / "static"
NODE = shutil.which("node")
NODE_TIMEOUT_S = 120
SVG_SIDE_PX_MAX = 4_000  # a test's SVG larger than this is a bug in the test, not a QR code

# argv: the scripts to load in order, then the global namespace to call into. Reads
# [[function name, args...], ...] as JSON on stdin and prints the results (or the code and
# message of a call that threw) as JSON. An argument {"$bytes": base64} arrives as a Uint8Array;
# a result's `modules` matrix leaves as rows of "0"/"1" (a version 40 matrix as JSON booleans
# would be ~170 kB).
HARNESS = """
const [namespace, ...scripts] = process.argv.slice(1);
for (const script of scripts) require(script);
const calls = JSON.parse(require("fs").readFileSync(0, "utf8"));
const revive = (arg) => (arg && typeof arg === "object" && "$bytes" in arg)
  ? new Uint8Array(Buffer.from(arg.$bytes, "base64")) : arg;
const rows = (modules) => modules.map((row) => row.map(Number).join(""));
(async () => {
  const results = [];
  for (const [name, ...args] of calls) {
    try {
      let ok = await globalThis[namespace][name](...args.map(revive));
      if (ok && typeof ok === "object" && Array.isArray(ok.modules)) {
        ok = { ...ok, modules: rows(ok.modules) };
      }
      results.push({ ok });
    } catch (error) {
      const code = error.code === undefined ? null : error.code;
      results.push({ error: String(error.message), code });
    }
  }
  process.stdout.write(JSON.stringify(results));
})();
"""


def run_js(namespace: str, scripts: list[str], calls: list[list[Any]]) -> list[Any]:
    """Each call's result, or {"error": message, "code": code} for a call that threw."""
    assert NODE is not None, "node is not installed"
    completed = subprocess.run(
        [NODE, "-e", HARNESS, namespace, *(str(STATIC / script) for script in scripts)],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        check=True,
    )
    results: list[dict[str, Any]] = json.loads(completed.stdout)
    assert len(results) == len(calls)
    return [result.get("ok", result) for result in results]


def js_bytes(data: bytes) -> dict[str, str]:
    """An argument that reaches the script as a Uint8Array."""
    return {"$bytes": base64.b64encode(data).decode()}


def _attribute(svg: str, name: str) -> str:
    found = re.search(rf'<svg[^>]* {name}="([^"]+)"', svg)
    assert found is not None, f"the SVG has no {name}"
    return found.group(1)


def rasterise_svg(svg: str) -> bytes:
    """A PNG of the scripts' SVGs: a white background, then black <rect x y width height/>s and
    <path>s made of `M x y h w v1 h-w z` runs (qr.js), in viewBox units."""
    width_px, height_px = int(_attribute(svg, "width")), int(_attribute(svg, "height"))
    assert 0 < width_px <= SVG_SIDE_PX_MAX and 0 < height_px <= SVG_SIDE_PX_MAX
    view_width = float(_attribute(svg, "viewBox").split()[2])
    scale = width_px / view_width
    image = Image.new("L", (width_px, height_px), 255)
    draw = ImageDraw.Draw(image)

    def fill(x: float, y: float, width: float, height: float) -> None:
        left, top = round(x * scale), round(y * scale)
        right, bottom = round((x + width) * scale), round((y + height) * scale)
        draw.rectangle((left, top, right - 1, bottom - 1), fill=0)

    rect = r'<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)"/>'
    for x, y, width, height in (map(int, found) for found in re.findall(rect, svg)):
        fill(x, y, width, height)
    for path in re.findall(r'<path d="([^"]*)" fill="#000"/>', svg):
        runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", path)
        assert "".join(f"M{x} {y}h{w}v1h-{back}z" for x, y, w, back in runs) == path
        for x, y, width, _ in (map(int, run) for run in runs):
            fill(x, y, width, 1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
