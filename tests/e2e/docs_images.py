"""Refresh the screenshots docs/e2e.md and the README show, from the last run of the browser walks:

    make test PYTEST_ARGS="tests/e2e"          # or: .venv/bin/python -m pytest tests/e2e
    .venv/bin/python -m tests.e2e.docs_images

Each picture is the walk's screenshot without the sidebar and the empty space under the page, scaled down and
stored with a 128-colour palette, so docs/img stays small.
"""
from __future__ import annotations

from pathlib import Path

from tests.e2e.browser import ARTIFACTS, ROOT

DOCS_IMG = ROOT / "docs" / "img"
WIDTH = 880  # pixels of the pictures in docs/img
SIDEBAR = 304  # pixels of the app's sidebar at the walks' 1360-pixel window width (left out)
PICTURES = {  # docs/img name: (walk, screenshot name without its number)
    "guide-contract.png": ("test_the_first_invoice_guide_in_a_browser", "step-4-contract"),
    "guide-approve.png": ("test_the_first_invoice_guide_in_a_browser", "step-7-approve"),
    "guide-finished.png": ("test_the_first_invoice_guide_in_a_browser", "guide-finished"),
    "pilot-customers-import.png": ("test_the_pilot_in_a_browser", "customers-import-checked"),
    "pilot-invoice-draft.png": ("test_the_pilot_in_a_browser", "invoice-draft"),
    "pilot-reconciliation.png": ("test_the_pilot_in_a_browser", "pilot-reconciliation"),
    "pilot-sign-off.png": ("test_the_pilot_in_a_browser", "sign-off-report"),
}


def _content_bottom(image) -> int:  # noqa: ANN001 - PIL image
    """The last row that is not plain background, plus a margin."""
    background = image.getpixel((image.width - 1, image.height - 1))
    pixels = image.load()
    for y in range(image.height - 1, 0, -8):
        if any(pixels[x, y] != background for x in range(0, image.width, 4)):
            return min(image.height, y + 40)
    return image.height


def make(picture: str, walk: str, shot: str) -> Path:
    from PIL import Image

    found = sorted((ARTIFACTS / walk).glob(f"[0-9][0-9]-{shot}.png"))
    if not found:
        raise SystemExit(f"no screenshot {shot} of {walk} in {ARTIFACTS}: run the browser walks first")
    image = Image.open(found[-1]).convert("RGB")
    image = image.crop((SIDEBAR, 60, image.width, image.height))
    image = image.crop((0, 0, image.width, _content_bottom(image)))
    image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.LANCZOS)
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    target = DOCS_IMG / picture
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    return target


if __name__ == "__main__":
    for name, (walk_name, shot_name) in PICTURES.items():
        path = make(name, walk_name, shot_name)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")
