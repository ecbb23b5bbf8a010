"""Writes a corpus of 8-bit frames for tuning the default's choice of coder
(`take_sample` in src/encode.rs) as DIR/NAME.WIDTHxHEIGHTxCHANNELS.raw (PNG
channel order): bench/common.py's and bench/dense_bench.py's frames, the test
photos (native, 1080p, 4K, gray, BGRA, JPEG'd), PngSuite's 8-bit files of 64
rows or more, and synthetic terminals, charts, pixel art, text over gradients,
dithering, tiled noise and screenshot/photo/noise mixes. Then print each
sample's repeat counts and the trials' choice with

    python bench/screen_gate_corpus.py /tmp/corpus   # BUFPNG_TESTDATA as for the benches
    BUFPNG_GATE_CORPUS=/tmp/corpus cargo test --release -p bufpng-core --lib gate_corpus -- --ignored --nocapture
"""
import sys
from pathlib import Path
import numpy as np, cv2
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import content_classes, testdata
from dense_bench import synthetic_ui

out = Path(sys.argv[1]); out.mkdir(exist_ok=True)
for f in out.glob("*.raw"): f.unlink()  # a rerun replaces the corpus
n = 0
def put(name, img):
    """img: cv2 layout (BGR/BGRA/gray) uint8."""
    global n
    img = np.ascontiguousarray(img)
    if img.ndim == 2: rgb = img; c = 1
    elif img.shape[2] == 3: rgb = img[:, :, ::-1]; c = 3
    elif img.shape[2] == 4: rgb = img[:, :, [2, 1, 0, 3]]; c = 4
    elif img.shape[2] == 2: rgb = img; c = 2
    h, w = img.shape[:2]
    (out / f"{name}.{w}x{h}x{c}.raw").write_bytes(np.ascontiguousarray(rgb).tobytes()); n += 1

td = testdata()
for c in content_classes():
    if c.frame.dtype == np.uint8 and c.frame.shape[0] >= 64:
        put("cc_" + c.name, c.frame)
real = cv2.imread(str(td / "photos/lorem_ipsum_screenshot.png"), cv2.IMREAD_COLOR)
put("real_screenshot", real)
ui = synthetic_ui()
put("synthetic_ui", ui)
put("synthetic_ui_gray", cv2.cvtColor(ui, cv2.COLOR_BGR2GRAY))
put("synthetic_ui_bgra", cv2.cvtColor(ui, cv2.COLOR_BGR2BGRA))
put("real_screenshot_gray", cv2.cvtColor(real, cv2.COLOR_BGR2GRAY))
put("real_screenshot_bgra", cv2.cvtColor(real, cv2.COLOR_BGR2BGRA))
put("real_screenshot_x2_nearest", cv2.resize(real, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST))
put("real_screenshot_x1.5_cubic", cv2.resize(real, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC))
put("real_screenshot_jpeg", cv2.imdecode(cv2.imencode(".jpg", real, [cv2.IMWRITE_JPEG_QUALITY, 85])[1], cv2.IMREAD_COLOR))
photos = {}
for p in sorted((td / "photos").glob("*.png")):
    if "lorem" in p.name: continue
    img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if img.dtype != np.uint8: continue
    name = p.stem
    photos[name] = img if img.ndim == 2 or img.shape[2] == 3 else img[:, :, :3]
    put(f"{name}_native", img)
    bgr = photos[name] if photos[name].ndim == 3 else cv2.cvtColor(photos[name], cv2.COLOR_GRAY2BGR)
    put(f"{name}_1080_cubic", cv2.resize(bgr, (1920, 1080), interpolation=cv2.INTER_CUBIC))
    put(f"{name}_1080_nearest", cv2.resize(bgr, (1920, 1080), interpolation=cv2.INTER_NEAREST))
    put(f"{name}_gray", cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    put(f"{name}_bgra", cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA))
    put(f"{name}_jpeg", cv2.imdecode(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])[1], cv2.IMREAD_COLOR))
    put(f"{name}_4k_linear", cv2.resize(bgr, (3840, 2160), interpolation=cv2.INTER_LINEAR))
for p in sorted((td / "pngsuite").glob("*.png")):
    img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if img is None or img.dtype != np.uint8 or img.shape[0] < 64: continue
    put("pngsuite_" + p.stem, img)

rng = np.random.default_rng(7)
k23 = photos["kodim23"]; k07 = photos["kodim07"]
# terminal: monospace text on black, coloured prompt
term = np.zeros((1080, 1920, 3), np.uint8)
words = ["ls", "-la", "cargo", "build", "--release", "git", "status", "drwxr-xr-x", "root", "4096", "Dec", "src/", "main.rs", "ok", "error:", "warning:"]
for i, y in enumerate(range(20, 1080, 18)):
    line = " ".join(rng.choice(words, rng.integers(2, 12)))
    cv2.putText(term, "$ " + line, (6, y), cv2.FONT_HERSHEY_PLAIN, 1.0, (200, 200, 200) if i % 3 else (80, 220, 80), 1, cv2.LINE_8)
put("terminal", term)
term_aa = np.full((1080, 1920, 3), (30, 30, 40), np.uint8)
for i, y in enumerate(range(20, 1080, 18)):
    cv2.putText(term_aa, " ".join(rng.choice(words, rng.integers(2, 14))), (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (220, 220, 210), 1, cv2.LINE_AA)
put("terminal_aa", term_aa)
put("terminal_small_800x600", term[:600, :800])
# chart: axes, grid, lines
chart = np.full((800, 1200, 3), 255, np.uint8)
for x in range(100, 1200, 100): cv2.line(chart, (x, 0), (x, 800), (230, 230, 230), 1)
for y in range(0, 800, 80): cv2.line(chart, (0, y), (1200, y), (230, 230, 230), 1)
for k, col in enumerate([(200, 80, 30), (30, 120, 220), (40, 180, 40)]):
    pts = np.array([[x, int(400 + 250 * np.sin(x / (60 + 30 * k)) + rng.integers(-20, 20))] for x in range(0, 1200, 8)], np.int32)
    cv2.polylines(chart, [pts], False, col, 2, cv2.LINE_AA)
put("chart_lines", chart)
bars = np.full((720, 1280, 3), 250, np.uint8)
for i in range(24):
    h = int(rng.integers(50, 650)); cv2.rectangle(bars, (40 + i * 50, 700 - h), (80 + i * 50, 700), (int(rng.integers(0, 255)), 120, 200), -1)
put("chart_bars", bars)
# scatter plot
scat = np.full((900, 1200, 3), 255, np.uint8)
for _ in range(3000):
    cv2.circle(scat, (int(rng.normal(600, 200)), int(rng.normal(450, 150))), 3, (180, 60, 60), -1, cv2.LINE_AA)
put("chart_scatter", scat)
# pixel art: small palette image upscaled nearest
small = rng.integers(0, 8, (60, 80)); pal = rng.integers(0, 256, (8, 3), dtype=np.uint8)
put("pixel_art_x8", cv2.resize(pal[small], (640, 480), interpolation=cv2.INTER_NEAREST))
put("pixel_art_x16", cv2.resize(pal[small], (1280, 960), interpolation=cv2.INTER_NEAREST))
sprite = cv2.resize(k23, (120, 68), interpolation=cv2.INTER_AREA) // 32 * 32
put("pixel_art_photo_x16", cv2.resize(sprite, (1920, 1088), interpolation=cv2.INTER_NEAREST))
# text over a gradient
grad = np.zeros((1080, 1920, 3), np.uint8)
grad[:, :, 0] = np.linspace(30, 220, 1920)[None, :]; grad[:, :, 1] = np.linspace(200, 40, 1080)[:, None]; grad[:, :, 2] = 120
tg = grad.copy()
for y in range(40, 1080, 30):
    cv2.putText(tg, " ".join(rng.choice(words, 12)), (20, y), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 1, cv2.LINE_AA)
put("text_over_gradient", tg)
put("gradient_only", grad)
tp = cv2.resize(k23, (1920, 1080), interpolation=cv2.INTER_CUBIC)
for y in range(40, 1080, 60):
    cv2.putText(tp, " ".join(rng.choice(words, 8)), (20, y), cv2.FONT_HERSHEY_DUPLEX, 1.0, (255, 255, 255), 2, cv2.LINE_AA)
put("text_over_photo", tp)
# dithering
g = cv2.cvtColor(cv2.resize(k07, (960, 640)), cv2.COLOR_BGR2GRAY).astype(np.float32)
bayer = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]]) / 16.0
ordered = ((g / 255.0 > np.tile(bayer, (160, 240))) * 255).astype(np.uint8)
put("dither_ordered_gray", ordered)
put("dither_ordered_rgb", cv2.cvtColor(ordered, cv2.COLOR_GRAY2BGR))
fs = g.copy()
for y in range(fs.shape[0]):
    row = fs[y]
    for x in range(fs.shape[1]):
        old = row[x]; new = 255.0 if old > 127 else 0.0; row[x] = new; e = old - new
        if x + 1 < fs.shape[1]: row[x + 1] += e * 7 / 16
        if y + 1 < fs.shape[0]:
            if x > 0: fs[y + 1, x - 1] += e * 3 / 16
            fs[y + 1, x] += e * 5 / 16
            if x + 1 < fs.shape[1]: fs[y + 1, x + 1] += e / 16
put("dither_fs_gray", fs.astype(np.uint8))
put("dither_fs_rgb", cv2.cvtColor(fs.astype(np.uint8), cv2.COLOR_GRAY2BGR))
# the Rust tests' generators
yy, xx = np.mgrid[0:240, 0:640].astype(np.uint32)
def h32(x, y):
    h = (x * np.uint32(0x9E3779B9)) ^ (y * np.uint32(0x85EBCA6B)); h ^= h >> 15; h = h * np.uint32(0x2C1B3C6D); return h ^ (h >> 12)
ink = h32(xx % 37, yy % 11)
glyph = np.where((ink % 3 == 0)[..., None], np.stack([(ink >> 8 & 0x3F), np.full_like(ink, 20), np.full_like(ink, 40)], -1), 255).astype(np.uint8)
put("rust_glyph_tile", glyph[:, :, ::-1])
n3 = (h32(xx, yy) % 3).astype(np.uint32)
rphoto = np.stack([(xx // 3 + n3) & 255, (yy // 2) & 255, ((xx + yy) // 4 + n3) & 255], -1).astype(np.uint8)
put("rust_photo_gradient", rphoto[:, :, ::-1])
# mixes: screenshot beside noise/photo, in column shares (near the threshold)
shot = content_classes()[1].frame
photo = content_classes()[0].frame
noise = content_classes()[2].frame
for share in (10, 20, 30, 40, 50, 60, 70, 80, 90):
    cut = 1920 * share // 100
    m = photo.copy(); m[:, :cut] = shot[:, :cut]; put(f"mix_shot{share}_photo", m)
    m = noise.copy(); m[:, :cut] = shot[:, :cut]; put(f"mix_shot{share}_noise", m)
    m = tg.copy(); m[:, cut:] = noise[:, cut:]; put(f"mix_textgrad{share}_noise", m)
# noise-ish: low-amplitude noise over flat, repeated noise tile (repeats but incompressible to runs)
put("noise_gray", rng.integers(0, 256, (1080, 1920), dtype=np.uint8))
put("noise_low4", (rng.integers(0, 4, (1080, 1920, 3)) + 100).astype(np.uint8))
tile = rng.integers(0, 256, (1080, 64, 3), dtype=np.uint8)
put("noise_tile64", np.tile(tile, (1, 30, 1)))
tile = rng.integers(0, 256, (1080, 16, 3), dtype=np.uint8)
put("noise_tile16", np.tile(tile, (1, 120, 1)))
tile = rng.integers(0, 256, (1080, 6, 3), dtype=np.uint8)
put("noise_tile6", np.tile(tile, (1, 320, 1)))
tile = rng.integers(0, 256, (1080, 400, 3), dtype=np.uint8)
put("noise_tile400", np.tile(tile, (1, 5, 1))[:, :1920])
# web page with a photo in it
page = np.full((1080, 1920, 3), 255, np.uint8)
page[100:700, 200:1100] = cv2.resize(k07, (900, 600))
for y in range(120, 1060, 24):
    cv2.putText(page, " ".join(rng.choice(words, 5)), (1150, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20), 1, cv2.LINE_AA)
put("page_with_photo", page)
page2 = page.copy(); page2[:, :1120] = cv2.resize(k07, (1120, 1080)); put("page_mostly_photo", page2)
# a spreadsheet grid with numbers
sheet = np.full((1080, 1920, 3), 255, np.uint8)
for y in range(0, 1080, 22): cv2.line(sheet, (0, y), (1920, y), (210, 210, 210), 1)
for x in range(0, 1920, 110): cv2.line(sheet, (x, 0), (x, 1080), (210, 210, 210), 1)
for y in range(16, 1080, 22):
    for x in range(4, 1920, 110):
        cv2.putText(sheet, f"{rng.integers(0, 100000)}", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
put("spreadsheet", sheet)
put("spreadsheet_gray", cv2.cvtColor(sheet, cv2.COLOR_BGR2GRAY))
# gray+alpha (2 channels) from the screenshot and a photo
put("screenshot_ga", np.dstack([cv2.cvtColor(real, cv2.COLOR_BGR2GRAY), np.full(real.shape[:2], 255, np.uint8)]))
put("kodim23_ga", np.dstack([cv2.cvtColor(k23, cv2.COLOR_BGR2GRAY), np.full(k23.shape[:2], 255, np.uint8)]))
print(n, "frames")
